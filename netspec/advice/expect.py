"""Expectations written in the spec, checked by ``netspec check`` so that CI can gate on them.

The ``expect:`` section itself (its keys and an example) is ``netspec.reading.expect``.
A broken expectation is an error located at its line in the spec (exit status 1). No torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from netspec.analysis.analysis import Report
from netspec.core.errors import Problem
from netspec.core.window import axis_names, num
from netspec.reading.spec import Spec


def check_expectations(spec: Spec, report: Report) -> list[Problem]:
    """One located problem per broken expectation; empty when all hold (or none are set)."""
    expect = spec.expect
    if expect is None:
        return []
    found: list[tuple[str, str]] = []
    if expect.output_shape is not None and tuple(expect.output_shape) != report.output_shape:
        found.append(("output_shape", f"the output shape is {list(report.output_shape)}; "
                      f"expected {list(expect.output_shape)}"))
    if expect.params is not None and report.params != expect.params:
        found.append(("params", f"the network has {report.params:,} parameters; expected "
                      f"exactly {expect.params:,} ({report.params - expect.params:+,})"))
    if expect.max_params is not None and report.params > expect.max_params:
        found.append(("max_params", f"{report.params:,} parameters exceed max_params "
                      f"{expect.max_params:,} by {report.params - expect.max_params:,}"))
    macs = report.macs
    if expect.max_macs is not None and macs is None:
        found.append(("max_macs", "max_macs cannot be checked: a plugin kind in this spec does "
                      "not count its MACs"))
    elif expect.max_macs is not None and macs is not None and macs > expect.max_macs:
        found.append(("max_macs", f"{macs:,} MACs per sample exceed max_macs "
                      f"{expect.max_macs:,} by {macs - expect.max_macs:,}"))
    if expect.min_receptive_field is not None:
        found += _min_field(expect.min_receptive_field, report)
    if expect.output_stride is not None:
        found += _output_stride(expect.output_stride, report)
    return [spec.source.problem(("expect", key), message) for key, message in found]


UNKNOWN_FIELD = ("cannot be checked: a plugin kind in this spec does not give its receptive "
                 "field")


def output_stride(report: Report) -> tuple[tuple[Fraction, ...], str] | None:
    """The jumps of the last top-level row whose units still have positions, and that row
    (``layers[8] Conv2d``); the input's own (1 per axis) when the first layer already
    flattens. None without spatial axes."""
    rank = len(report.input_shape) - 1
    if rank == 0:
        return None
    for row in reversed(report.top_level()):
        if len(row.rf) == rank and all(axis.positional for axis in row.rf):
            return tuple(axis.jump for axis in row.rf), f"{row.path} {row.kind}"
    return (Fraction(1),) * rank, "the input"


def _per_axis(key: str, value: int | tuple[int, ...], rank: int) -> tuple[int, ...] | str:
    """``value`` for each of ``rank`` axes, or the message saying why it cannot be."""
    if rank == 0:
        return f"{key} needs spatial axes; the input has none"
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        return (f"{key} needs 1 or {rank} values (one per spatial axis); received "
                f"{list(value)}")
    return tuple(value)


def _min_field(value: int | tuple[int, ...], report: Report) -> list[tuple[str, str]]:
    wanted = _per_axis("min_receptive_field", value, len(report.input_shape) - 1)
    if isinstance(wanted, str):
        return [("min_receptive_field", wanted)]
    if not all(axis.known for axis in report.rf):
        return [("min_receptive_field", UNKNOWN_FIELD)]
    sizes = [axis.size for axis in report.rf]
    short = _short_axes(sizes, wanted, lambda have, want: have < want)
    if not short:
        return []
    field = "x".join(num(size) for size in sizes)
    return [("min_receptive_field", f"the final receptive field is {field}, below "
             f"min_receptive_field {_text(wanted)} on {short}")]


def _output_stride(value: int | tuple[int, ...], report: Report) -> list[tuple[str, str]]:
    wanted = _per_axis("output_stride", value, len(report.input_shape) - 1)
    if not all(axis.known for axis in report.rf):
        return [("output_stride", UNKNOWN_FIELD)]
    found = output_stride(report)
    if isinstance(wanted, str) or found is None:
        return [("output_stride", wanted if isinstance(wanted, str) else "no spatial axes")]
    jumps, row = found
    if not _short_axes(jumps, wanted, lambda have, want: have != want):
        return []
    stride = "x".join(num(jump) for jump in jumps)
    return [("output_stride", f"the output stride (the jump of the last feature map with "
             f"positions, {row}) is {stride}; expected {_text(wanted)}")]


def _short_axes(have: Sequence[Fraction], want: Sequence[int], broken: Any) -> str:
    """``H and W``: the axes where ``broken(have, want)``."""
    names = axis_names(len(want))
    return " and ".join(
        name for name, h, w in zip(names, have, want, strict=True) if broken(h, w)
    )


def _text(values: Sequence[int]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))
