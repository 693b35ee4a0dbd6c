"""Analyse a spec without running anything: per layer shapes, parameters, MACs, receptive field.

No torch here: every number comes from the formulas on the layer kinds, so ``netspec check``
stays fast. Totals are sums over layers; the final receptive field is the last layer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netspec.analysis.limits import check_size
from netspec.analysis.memo import once_per_spec
from netspec.core.errors import LimitError, NetspecError, Problem
from netspec.core.limits import bytes_text
from netspec.core.shapes import AxisRF, Shape, no_field, rf_to_dicts
from netspec.layers.base import RF, LayerReport, sum_macs
from netspec.layers.walk import walk
from netspec.reading.loader import SpecSource, read_spec
from netspec.reading.spec import Spec

__all__ = ["LayerReport", "Report", "analyze", "check_memory", "input_rf", "load"]


@dataclass(frozen=True)
class Report:
    """The analysis of a whole spec: one ``LayerReport`` per layer and the totals."""

    name: str | None
    input_shape: Shape
    layers: tuple[LayerReport, ...]
    rf: RF = field(default=())

    @property
    def output_shape(self) -> Shape:
        top = self.top_level()
        return top[-1].out_shape if top else self.input_shape

    @property
    def trainable_params(self) -> int:
        return sum(layer.trainable_params for layer in self.top_level())

    @property
    def non_trainable_params(self) -> int:
        return sum(layer.non_trainable_params for layer in self.top_level())

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    @property
    def buffers(self) -> int:
        return sum(layer.buffers for layer in self.top_level())

    @property
    def macs(self) -> int | None:
        """None when a layer's MACs are unknown (a plugin kind that does not count them)."""
        return sum_macs(self.top_level())

    def top_level(self) -> tuple[LayerReport, ...]:
        """Rows of depth 0: nested rows are already counted in their container's row."""
        return tuple(layer for layer in self.layers if layer.depth == 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "layers": [layer.to_dict() for layer in self.layers],
            "totals": {
                "params": self.params,
                "trainable_params": self.trainable_params,
                "non_trainable_params": self.non_trainable_params,
                "buffers": self.buffers,
                "macs": self.macs,
                "receptive_field": rf_to_dicts(self.rf),
            },
        }


def input_rf(shape: Shape, dtype: str = "float") -> RF:
    """The receptive field of the input itself: one pixel per spatial axis ([C, *spatial]).

    Integer ids (``dtype: long``, token ids for ``Embedding``) have no pixels to see: one
    column that says so (``no_field``), kept by every layer after."""
    if dtype == "long":
        return (no_field("token ids"),)
    return tuple(AxisRF() for _ in shape[1:])


@once_per_spec
def analyze(spec: Spec) -> Report:
    """Shapes, parameters, buffers, MACs and receptive field of every layer. No torch.

    Raises ``SpecError`` at the first layer that cannot take its input, located in the spec.
    """
    check_size(spec)  # before the walk: Repeat copies multiply
    try:
        rows, _, rf = walk(
            spec.layers, tuple(spec.input), input_rf(tuple(spec.input), spec.input_dtype),
            ("layers",))
    except NetspecError as error:
        located = [spec.source.locate(p) for p in error.within(("layers",)).problems]
        raise type(error)([*_input_hints(spec), *located]) from None
    return Report(spec.name, tuple(spec.input), tuple(rows), rf)


def _input_hints(spec: Spec) -> list[Problem]:
    """A problem at ``input:`` when the network fails on it but takes it fixed: without a
    leading batch dimension of 1 (torchinfo's habit, ``[1, 1, 28, 28]``), or channels-first
    (Keras's ``[28, 28, 3]``); else none."""
    shape = tuple(spec.input)
    if len(shape) >= 2 and shape[0] == 1 and _fits(spec, shape[1:]):
        return [spec.source.problem(("input",), (
            f"input {list(shape)} starts with a batch dimension: `input:` is one sample, "
            f"without the batch; drop the batch dimension: input: {list(shape[1:])}"))]
    first = (shape[-1], *shape[:-1])
    if len(shape) >= 3 and shape[-1] in (1, 3, 4) and shape[0] > 4 and _fits(spec, first):
        return [spec.source.problem(("input",), (
            f"input {list(shape)} looks channels-last ([H, W, C], as Keras has it); torch is "
            f"channels-first: input: {list(first)}"))]
    return []


def _fits(spec: Spec, shape: Shape) -> bool:
    try:
        walk(spec.layers, shape, input_rf(shape), ("layers",))
    except NetspecError:
        return False
    return True


def load(source: SpecSource, *, params: Mapping[str, Any] | None = None) -> Spec:
    """A validated spec from a path, YAML text, a dict, or a ``Spec``.

    A ``str`` is read as a path when it names a file or directory or ends in ``.yaml``/``.yml``,
    else as YAML text (a ``pathlib.Path`` is always a path). ``params`` overrides the spec's
    top-level ``params:`` (as ``--set`` does). Blocks and parameter references are expanded
    first; schema mistakes are then reported together, and the shapes are checked layer by
    layer (without torch), so a spec that loads is one that builds. Raises ``SpecError``.
    """
    spec = read_spec(source, analyze, params=params)
    analyze(spec)
    return spec


def check_memory(
    report: Report, spec: Spec, max_params: int | None, element_size: int, dtype_name: str
) -> None:
    """Refuse to allocate more than ``max_params`` parameter and buffer elements.

    Raises ``LimitError`` naming the count, the bytes, the largest layer and the ways out.
    """
    elements = report.params + report.buffers
    if max_params is None or elements <= max_params:
        return
    rows = report.top_level()
    biggest = max(rows, key=lambda row: row.params + row.buffers)
    share = biggest.params + biggest.buffers
    raise LimitError(spec.source.problem(spec.source.path_of_row(biggest.path), (
        f"building would allocate {elements:,} parameter and buffer elements "
        f"({bytes_text(elements * element_size)} as {dtype_name}), {share:,} of them in this "
        f"{biggest.kind}; the limit is max_params={max_params:,}: raise it (max_params=N, "
        "--max-params N) if this is intended, or build on device='meta', which allocates "
        "nothing")))
