"""Confirm netspec's analysis with torchinfo on the built module, without allocating weights.

The spec is built with ``device="meta"``: every parameter and buffer has a shape and no storage,
so confirming VGG-16 costs no more memory than confirming LeNet. torchinfo 1.8 runs its forward
hooks on meta tensors unchanged (``tests/test_confirm.py`` runs every registered kind through
it): output sizes come from the meta kernels, parameter counts from ``numel()``, and its MAC
count from those two. Any disagreement is a netspec bug and raises ``ConfirmationError``.

Before that, the same comparison runs on a batch of zero samples on the CPU with unbacked
weights (``netspec.empty_batch``): the same numbers without the meta device's start-up cost
(torch's Python meta kernels import sympy and torch._dynamo: about 1 s and 70 MB). When it
agrees, that is the confirmation; otherwise the meta-device run decides, as described here.

What is compared, each with both numbers in the error:

- every top-level row against the child of the built ``nn.Sequential`` of the same name:
  output shape, parameters, trainable parameters, buffers, MACs (a container's MACs are the sum
  of its leaf modules', as torchinfo totals them), and the kind of a leaf module;
- every nested leaf row (inside a composite kind) against the leaf modules torchinfo saw, in
  order; a parameter-free ``nn.Identity`` that a composite builds as a placeholder (an identity
  shortcut) has no row and is passed over;
- the totals: output shape, parameters, trainable parameters, buffers, MACs.

This module imports torch and torchinfo; ``netspec.summary`` imports it only when confirming.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import version

import torchinfo
from torch import nn
from torchinfo.layer_info import LayerInfo
from torchinfo.torchinfo import clear_cached_forward_pass

from netspec.analysis.analysis import Report
from netspec.core.errors import ConfirmationError, Problem
from netspec.layers.base import LayerReport
from netspec.reading.spec import Spec
from netspec.torch_side.build import build
from netspec.torch_side.empty_batch import example_input, run_on_empty_batch
from netspec.torch_side.flop_count import opaque_statistics

PLACEHOLDER = "Identity"
"""Class of the structural no-op modules that composites may build without an analysis row."""


@dataclass(frozen=True)
class Facts:
    """The numbers compared for one layer (or the whole network), as one side sees them."""

    output_shape: list[int]
    parameters: int
    trainable_parameters: int
    buffers: int
    macs: int


LABELS = {"output_shape": "output shape", "trainable_parameters": "trainable parameters",
          "macs": "MACs"}


def confirm_report(spec: Spec, report: Report) -> str:
    """``"torchinfo <version>"`` when torch agrees with ``report`` on every row and total.

    Raises ``ConfirmationError`` listing every disagreement, each with both numbers.

    torchinfo runs first on an empty batch (``netspec.empty_batch``: no weight memory, none of
    the meta device's start-up cost); only when that cannot run or disagrees does the meta
    device decide, so every error comes from the meta-device run.
    """
    try:
        fast: list[Problem] | None = compare(spec, report, *run_on_empty_batch(spec, report))
    except Exception:  # a kernel that refuses empty batches, an allocation refused...
        fast = None
    if fast == []:
        return f"torchinfo {version('torchinfo')}"
    problems = compare(spec, report, *run_torchinfo(spec, report))
    if problems:
        raise ConfirmationError(problems)
    return f"torchinfo {version('torchinfo')}"


def compare(
    spec: Spec, report: Report, model: nn.Module, stats: torchinfo.ModelStatistics
) -> list[Problem]:
    """Every disagreement between ``report`` and what torchinfo saw of ``model``; attention
    and embeddings are one leaf each, their MACs measured by FlopCounterMode
    (``netspec.flop_count``)."""
    stats = opaque_statistics(stats)
    problems = compare_top_level(spec, report, stats.summary_list)
    problems += compare_nested_leaves(spec, report, stats.summary_list)
    problems += compare_totals(spec, report, stats, model)
    return problems


def run_torchinfo(spec: Spec, report: Report) -> tuple[nn.Module, torchinfo.ModelStatistics]:
    """Build on the meta device and let torchinfo run one sample (a batch of one) through it."""
    depth = max((row.depth for row in report.layers), default=0) + 1
    try:
        model = build(spec, device="meta")
        data = example_input(spec, 1, "meta")
        stats = torchinfo.summary(model, input_data=data, verbose=0, depth=depth, mode="eval")
    except Exception as error:  # torch rejected what netspec accepted: a netspec bug
        cause = error.__cause__ or error
        raise ConfirmationError(spec.source.problem((), (
            f"torch could not build or run the network that netspec accepted: "
            f"{type(cause).__name__}: {cause}"
        ))) from error
    finally:
        clear_cached_forward_pass()  # torchinfo keeps every model it has seen
    return model, stats


# --- one side each ---


def row_facts(row: LayerReport) -> Facts:
    return Facts(list(row.out_shape), row.params, row.trainable_params, row.buffers, row.macs)


def module_facts(info: LayerInfo, summary_list: list[LayerInfo]) -> Facts:
    """torchinfo's numbers for one module; a container's MACs are its leaves' sum."""
    macs = info.macs if info.is_leaf_layer else sum(
        leaf.macs for leaf in _descendants(info, summary_list) if leaf.is_leaf_layer
    )
    return Facts(
        output_shape=list(info.output_size[1:]),
        parameters=info.num_params,
        trainable_parameters=info.trainable_params,
        buffers=sum(buffer.numel() for buffer in info.module.buffers()),
        macs=macs,
    )


# --- comparisons ---


def compare_top_level(
    spec: Spec, report: Report, summary_list: list[LayerInfo]
) -> list[Problem]:
    rows = list(report.top_level())
    modules = [info for info in summary_list if info.depth == 1]
    if [row.name for row in rows] != [info.var_name for info in modules]:
        return [spec.source.problem((), (
            f"torch disagrees with netspec on the layers: netspec has "
            f"{[row.name for row in rows]}, the built module has "
            f"{[info.var_name for info in modules]}"
        ))]
    problems: list[Problem] = []
    for row, info in zip(rows, modules, strict=True):
        if info.is_leaf_layer and info.class_name != row.kind:
            problems.append(_disagree(spec, row, "kind", row.kind, info.class_name))
        problems += _differences(spec, row, row_facts(row), module_facts(info, summary_list))
    return problems


def compare_nested_leaves(
    spec: Spec, report: Report, summary_list: list[LayerInfo]
) -> list[Problem]:
    """Leaf rows inside composites against torch's leaf modules inside containers, in order."""
    rows = [row for row in leaf_rows(report) if row.depth > 0]
    leaves = [info for info in summary_list if info.is_leaf_layer and info.depth > 1]
    problems: list[Problem] = []
    position = 0
    for row in rows:
        while (
            position < len(leaves)
            and leaves[position].class_name == PLACEHOLDER != row.kind
            and leaves[position].num_params == 0
        ):
            position += 1
        if position == len(leaves):
            return [*problems, _disagree(spec, row, "layer", row.kind, "no module left")]
        info = leaves[position]
        if info.class_name != row.kind:
            return [*problems, _disagree(spec, row, "kind", row.kind, info.class_name)]
        problems += _differences(spec, row, row_facts(row), module_facts(info, summary_list))
        position += 1
    extra = [info.class_name for info in leaves[position:] if info.class_name != PLACEHOLDER]
    if extra:
        problems.append(spec.source.problem((), (
            f"torch disagrees with netspec on the layers: the built module has leaf modules "
            f"{extra} that netspec has no row for"
        )))
    return problems


def compare_totals(
    spec: Spec, report: Report, stats: torchinfo.ModelStatistics, model: nn.Module
) -> list[Problem]:
    ours = Facts(
        list(report.output_shape), report.params, report.trainable_params, report.buffers,
        report.macs,
    )
    theirs = Facts(
        output_shape=list(stats.summary_list[0].output_size[1:]),
        parameters=stats.total_params,
        trainable_parameters=stats.trainable_params,
        buffers=sum(buffer.numel() for buffer in model.buffers()),
        macs=stats.total_mult_adds,
    )
    return [
        spec.source.problem((), (
            f"torch disagrees with netspec on the total {label}: netspec {value}, torch {other}"
        ))
        for label, value, other in _changed(ours, theirs)
    ]


def leaf_rows(report: Report) -> list[LayerReport]:
    """Rows with no nested rows under them: the ones that become leaf torch modules."""
    rows = report.layers
    return [
        row for i, row in enumerate(rows) if i + 1 == len(rows) or rows[i + 1].depth <= row.depth
    ]


# --- helpers ---


def _descendants(info: LayerInfo, summary_list: list[LayerInfo]) -> Iterator[LayerInfo]:
    start = next(i for i, other in enumerate(summary_list) if other is info)
    for other in summary_list[start + 1:]:
        if other.depth <= info.depth:
            return
        yield other


def _changed(ours: Facts, theirs: Facts) -> list[tuple[str, object, object]]:
    mine, other = asdict(ours), asdict(theirs)
    return [
        (LABELS.get(key, key), value, other[key])
        for key, value in mine.items()
        if value != other[key]
    ]


def _differences(spec: Spec, row: LayerReport, ours: Facts, theirs: Facts) -> list[Problem]:
    return [_disagree(spec, row, label, a, b) for label, a, b in _changed(ours, theirs)]


def _disagree(spec: Spec, row: LayerReport, what: str, ours: object, theirs: object) -> Problem:
    named = "" if row.name == str(row.index) else f" {row.name!r}"
    return spec.source.problem(spec.source.path_of_row(row.path), (
        f"torch disagrees with netspec on layer {row.index} ({row.kind}{named}): {what}: "
        f"netspec {ours}, torch {theirs}"
    ))
