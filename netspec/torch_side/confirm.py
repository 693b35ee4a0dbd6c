"""Confirm netspec's analysis with torchinfo and torch's FlopCounterMode on the built module,
without allocating weights.

The spec is built with ``device="meta"``: every parameter and buffer has a shape and no storage,
so confirming VGG-16 costs no more memory than confirming LeNet. torchinfo 1.8 runs its forward
hooks on meta tensors unchanged (``tests/test_confirm.py`` runs every registered kind through
it): output sizes come from the meta kernels, parameter counts from ``numel()``. MACs are
counted by ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2, ``netspec.torch_side.flops``),
on one sample on the meta device; torchinfo's own mult-adds, which charge biases and norms as
well, are not netspec's convention: they are reported beside the confirmation, not compared.
Any disagreement is a netspec bug and raises ``ConfirmationError``.

Before that, the same comparison runs on a batch of zero samples on the CPU with unbacked
weights (``netspec.empty_batch``): the same numbers without the meta device's start-up cost
(torch's Python meta kernels import sympy and torch._dynamo: about 1 s and 70 MB). When it
agrees, that is the confirmation; otherwise the meta-device run decides, as described here.

What is compared, each with both numbers in the error:

- every top-level row against the child of the built ``nn.Sequential`` of the same name:
  output shape, parameters, trainable parameters, buffers, MACs (FlopCounterMode's count of
  the module, everything inside a container included), and the kind of a leaf module;
- every nested leaf row (inside a composite kind) against the leaf modules torchinfo saw, in
  order; a parameter-free ``nn.Identity`` that a composite builds as a placeholder (an identity
  shortcut) has no row and is passed over;
- the totals: output shape, parameters, trainable parameters, buffers, MACs.

This module imports torch and torchinfo; ``netspec.summary`` imports it only when confirming.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import version
from math import prod

import torchinfo
from torch import nn
from torchinfo.layer_info import LayerInfo
from torchinfo.torchinfo import clear_cached_forward_pass

from netspec.analysis.analysis import Report
from netspec.analysis.memory import leaf_rows as memory_leaf_rows
from netspec.core.errors import ConfirmationError, PluginError, Problem
from netspec.layers.base import LayerReport
from netspec.layers.plugins import describe, torch_modules
from netspec.reading.spec import Spec
from netspec.torch_side.build import build, module_class
from netspec.torch_side.empty_batch import example_input, run_on_empty_batch
from netspec.torch_side.flop_count import opaque_statistics
from netspec.torch_side.flops import flop_counter_macs
from netspec.torch_side.plugin_check import check_plugins

PLACEHOLDER = "Identity"
"""Class of the structural no-op modules that composites may build without an analysis row."""


@dataclass(frozen=True)
class Facts:
    """The numbers compared for one layer (or the whole network), as one side sees them."""

    output_shape: list[int]
    parameters: int
    trainable_parameters: int
    buffers: int
    macs: int | None
    """None on netspec's side when a plugin kind does not count them: not compared."""


LABELS = {"output_shape": "output shape", "trainable_parameters": "trainable parameters",
          "macs": "MACs"}


@dataclass(frozen=True)
class Confirmation:
    """Who confirmed an analysis, and torchinfo's own count of mult-adds (biases and norms
    charged too: not netspec's convention, shown beside it)."""

    confirmed_by: str
    torchinfo_mult_adds: int
    torchinfo_params_bytes: int
    """torchinfo's "Params size": the parameters' bytes (buffers left out)."""
    torchinfo_forward_backward_bytes: int
    """torchinfo's "Forward/backward pass size" for one sample: twice the output bytes of each
    leaf module that has parameters."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def confirmed_by() -> str:
    return f"torchinfo {version('torchinfo')} and FlopCounterMode"


def confirm_report(spec: Spec, report: Report) -> Confirmation:
    """Who confirmed ``report``, when torch agrees with it on every row and total.

    Raises ``ConfirmationError`` listing every disagreement, each with both numbers.

    MACs come from ``FlopCounterMode`` on the meta device. torchinfo runs first on an empty
    batch (``netspec.empty_batch``: no weight memory); only when that cannot run or disagrees
    does its meta-device run decide, so every error comes from the meta-device run.

    torch's own warnings on the way (``padding='same'`` with an even kernel may copy the input)
    are not shown: they speak of torch's internals, and netspec's lints say what matters in
    netspec's words (NS101 for that one).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _confirm(spec, report)


def _confirm(spec: Spec, report: Report) -> Confirmation:
    check_plugins(spec, report)
    macs = _flop_counter(spec, report)
    try:
        model, stats = run_on_empty_batch(spec, report)
        fast: list[Problem] | None = compare(spec, report, model, stats, macs)
    except Exception:  # a kernel that refuses empty batches, an allocation refused...
        fast = None
    if fast != []:
        model, stats = run_torchinfo(spec, report)
        problems = compare(spec, report, model, stats, macs)
        plugin_paths = {spec.source.path_of_row(row.path) for row in report.layers
                        if row.layer is not None and row.layer.plugin}
        theirs = [problem for problem in problems if problem.path in plugin_paths]
        if theirs:  # the plugin's module disagrees with the plugin: not netspec's bug
            raise PluginError(theirs)
        if problems:
            raise ConfirmationError(problems)
    return Confirmation(confirmed_by(), int(stats.total_mult_adds), int(stats.total_param_bytes),
                        _forward_backward_bytes(stats))


def _forward_backward_bytes(stats: torchinfo.ModelStatistics) -> int:
    """torchinfo's own sum (``ModelStatistics``), from its recorded one-sample output sizes
    (float32), so that an empty batch gives what a batch of one would."""
    return sum(2 * 4 * prod(info.output_size) for info in stats.summary_list
               if info.is_leaf_layer and info.num_params > 0 and info.executed)


def _rejected(spec: Spec, error: Exception) -> ConfirmationError:
    """torch refused to build or run what netspec accepted: a netspec bug, said at the spec."""
    cause = error.__cause__ or error
    return ConfirmationError(spec.source.problem((), (
        f"torch could not build or run the network that netspec accepted: "
        f"{type(cause).__name__}: {cause}"
    )))


def _flop_counter(spec: Spec, report: Report) -> dict[str, int]:
    try:
        return flop_counter_macs(spec, report.input_shape)
    except Exception as error:  # torch rejected what netspec accepted: a netspec bug
        raise _rejected(spec, error) from error


def compare(
    spec: Spec, report: Report, model: nn.Module, stats: torchinfo.ModelStatistics,
    macs: dict[str, int],
) -> list[Problem]:
    """Every disagreement between ``report`` and what torchinfo saw of ``model`` (``macs``:
    FlopCounterMode's MACs by module path); attention and embeddings are one leaf each
    (``netspec.torch_side.flop_count``)."""
    stats = opaque_statistics(stats, measure=False)  # MACs: macs_of, below
    names = {id(module): name for name, module in model.named_modules()}

    def macs_of(info: LayerInfo) -> int:
        return macs.get(names.get(id(info.module), ""), 0)

    problems = compare_top_level(spec, report, stats.summary_list, macs_of)
    problems += compare_nested_leaves(spec, report, stats.summary_list, macs_of)
    problems += compare_totals(spec, report, stats, model, macs[""])
    return problems


def run_torchinfo(spec: Spec, report: Report) -> tuple[nn.Module, torchinfo.ModelStatistics]:
    """Build on the meta device and let torchinfo run one sample (a batch of one) through it."""
    depth = max((row.depth for row in report.layers), default=0) + 1
    try:
        model = build(spec, device="meta")
        data = example_input(spec, 1, "meta")
        stats = torchinfo.summary(model, input_data=data, verbose=0, depth=depth, mode="eval")
    except Exception as error:  # torch rejected what netspec accepted: a netspec bug
        raise _rejected(spec, error) from error
    finally:
        clear_cached_forward_pass()  # torchinfo keeps every model it has seen
    return model, stats


# --- one side each ---


def row_facts(row: LayerReport) -> Facts:
    """netspec's numbers for a row. A plugin kind's MACs are its own: torchinfo and the FLOP
    counter see a custom module's insides, not the plugin's claim, so they are not compared."""
    plugin = row.layer is not None and bool(row.layer.plugin)
    macs = None if plugin else row.macs
    return Facts(list(row.out_shape), row.params, row.trainable_params, row.buffers, macs)


MacsOf = Callable[[LayerInfo], int]
"""FlopCounterMode's MACs of the module torchinfo recorded."""


def module_facts(info: LayerInfo, macs_of: MacsOf) -> Facts:
    """torchinfo's numbers for one module, and FlopCounterMode's MACs."""
    return Facts(
        output_shape=list(info.output_size[1:]),
        parameters=info.num_params,
        trainable_parameters=info.trainable_params,
        buffers=sum(buffer.numel() for buffer in info.module.buffers()),
        macs=macs_of(info),
    )


# --- comparisons ---


def compare_top_level(
    spec: Spec, report: Report, summary_list: list[LayerInfo], macs_of: MacsOf
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
        if info.is_leaf_layer and info.class_name != _class_name(row):
            problems.append(_disagree(spec, row, "kind", _class_name(row), info.class_name))
        problems += _differences(spec, row, row_facts(row), module_facts(info, macs_of))
    return problems


def compare_nested_leaves(
    spec: Spec, report: Report, summary_list: list[LayerInfo], macs_of: MacsOf
) -> list[Problem]:
    """Leaf rows inside composites against torch's leaf modules inside containers, in order."""
    rows = [row for row in leaf_rows(report) if row.depth > 0]
    leaves = [info for info in _units(summary_list) if info.depth > 1]
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
        if info.class_name != _class_name(row):
            return [*problems, _disagree(spec, row, "kind", _class_name(row), info.class_name)]
        problems += _differences(spec, row, row_facts(row), module_facts(info, macs_of))
        position += 1
    extra = [info.class_name for info in leaves[position:] if info.class_name != PLACEHOLDER]
    if extra:
        problems.append(spec.source.problem((), (
            f"torch disagrees with netspec on the layers: the built module has leaf modules "
            f"{extra} that netspec has no row for"
        )))
    return problems


def compare_totals(
    spec: Spec, report: Report, stats: torchinfo.ModelStatistics, model: nn.Module, macs: int
) -> list[Problem]:
    plugins = any(row.layer is not None and row.layer.plugin for row in report.layers)
    ours = Facts(
        list(report.output_shape), report.params, report.trainable_params, report.buffers,
        None if plugins else report.macs,
    )
    theirs = Facts(
        output_shape=list(stats.summary_list[0].output_size[1:]),
        parameters=stats.total_params,
        trainable_parameters=stats.trainable_params,
        buffers=sum(buffer.numel() for buffer in model.buffers()),
        macs=macs,
    )
    return [
        spec.source.problem((), (
            f"torch disagrees with netspec on the total {label}: netspec {value}, torch {other}"
        ))
        for label, value, other in _changed(ours, theirs)
    ]


def leaf_rows(report: Report) -> list[LayerReport]:
    """Rows with no nested rows under them: the ones that become leaf torch modules."""
    return memory_leaf_rows(report.layers)


# --- helpers ---


def _class_name(row: LayerReport) -> str:
    """The class torch builds for a row: its kind, or the class a plugin kind names."""
    if row.layer is None:
        return row.kind
    return (row.layer.torch_name or row.kind).rpartition(":")[2]


def _units(summary_list: list[LayerInfo]) -> Iterator[LayerInfo]:
    """The leaf modules, where a plugin kind's module counts as one however many modules it
    holds (its row is a leaf row; what it is made of is its own business)."""
    plugins = {module_class(name) for name in torch_modules()}
    inside = None  # the depth of the plugin module being passed over
    for info in summary_list:
        if inside is not None and info.depth > inside:
            continue
        inside = None
        if type(info.module) in plugins:
            inside = info.depth
            yield info
        elif info.is_leaf_layer:
            yield info


def _changed(ours: Facts, theirs: Facts) -> list[tuple[str, object, object]]:
    mine, other = asdict(ours), asdict(theirs)
    return [
        (LABELS.get(key, key), value, other[key])
        for key, value in mine.items()
        if value is not None and value != other[key]
    ]


def _differences(spec: Spec, row: LayerReport, ours: Facts, theirs: Facts) -> list[Problem]:
    return [_disagree(spec, row, label, a, b) for label, a, b in _changed(ours, theirs)]


def _disagree(spec: Spec, row: LayerReport, what: str, ours: object, theirs: object) -> Problem:
    named = "" if row.name == str(row.index) else f" {row.name!r}"
    who = "netspec" if row.layer is None or not row.layer.plugin else describe(type(row.layer))
    return spec.source.problem(spec.source.path_of_row(row.path), (
        f"torch disagrees with {who} on layer {row.index} ({row.kind}{named}): {what}: "
        f"{who.split(' (')[0]} {ours}, torch {theirs}"
    ))
