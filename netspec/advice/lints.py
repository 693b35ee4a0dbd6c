"""Lints: the lecture's rules of thumb applied to a spec's analysis. No torch.

    for warning in netspec.lint(spec):
        print(warning)          # file:line:col: layers[3].Conv2d: warning NS102: ...

Each rule asks the layer kinds what they are and do (``windows``, ``channel_bias``,
``cancels_channel_bias``, ``is_dropout``...) and never names a kind, so a new kind takes part by
answering those questions. Codes are stable (``netspec.lint_codes``) and each is explained in
``docs/lints.md``. A layer's ``lint_ignore: [NS103]`` silences a code for that layer and the
layers inside it; the spec's top-level ``lint_ignore:`` silences it everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING, Any

from netspec.core.errors import Problem, SpecPath, format_path
from netspec.core.lint_codes import LINT_CODES
from netspec.core.window import ROW_WORDS, Window, axis_names, num
from netspec.layers.base import LayerReport

if TYPE_CHECKING:
    from netspec.analysis.analysis import Report
    from netspec.layers.base import Layer
    from netspec.reading.spec import Spec

__all__ = ["LINT_CODES", "Lint", "lint"]

FAR_LARGER = 5
"""NS108 fires when the final receptive field exceeds this many times the input on an axis."""
MOST = 0.5
"""NS109 fires when one layer holds more than this share of all parameters."""


@dataclass(frozen=True)
class Lint:
    """One warning: a code, the rule broken with its numbers, and the layer it is about."""

    code: str
    message: str
    path: SpecPath = ()
    where: str = ""
    """The row as the summary names it: ``layers[7] Linear (f5)``."""
    file: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def problem(self) -> Problem:
        """As a located problem: ``file:line:col: path: warning NS103: message``."""
        text = f"warning {self.code}: {self.message}"
        return Problem(text, self.path, self.file, self.line, self.column)

    def summary_line(self) -> str:
        """``NS109 layers[7] Linear (f5): holds ...``: one line under the summary table."""
        return f"{self.code} {self.where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """``netspec check --format json`` entry: a problem with a severity and a code."""
        return {**Problem(self.message, self.path, self.file, self.line, self.column).to_dict(),
                "severity": "warning", "code": self.code}

    def __str__(self) -> str:
        return str(self.problem)


@dataclass(frozen=True)
class Node:
    """A row with what the rules ask about its place: the row after it in the same list, its
    enclosing rows, and whether it has rows inside it."""

    row: LayerReport
    layer: Layer
    after: Node | None
    ancestors: tuple[LayerReport, ...]
    leaf: bool
    path: SpecPath = ()
    """Where the layer is written: ``("layers", 4, "Sequential", "layers", 0, "Conv2d")``."""


Finding = tuple[str, str]  # (code, message)


def lint(spec: Spec, report: Report | None = None) -> list[Lint]:
    """Every warning about ``spec``, in the order of its rows, located in its source."""
    from netspec.analysis.analysis import analyze

    report = report or analyze(spec)
    nodes = _nodes(report.layers)
    ignored_everywhere = set(spec.lint_ignore)
    copies: dict[tuple[str, SpecPath, str], list[Node]] = {}
    for node, (code, message) in _findings(nodes, report):
        ignored = {*node.layer.lint_ignore, *ignored_everywhere}
        for ancestor in node.ancestors:
            ignored.update(ancestor.layer.lint_ignore if ancestor.layer else ())
        if code not in ignored:  # a layer repeated (Repeat) may say the same more than once
            copies.setdefault((code, node.path, message), []).append(node)
    order = {id(node): position for position, node in enumerate(nodes)}
    found = []
    for (code, path, message), same in copies.items():
        others = len(same) - 1
        if others:
            message += " (its other copy too)" if others == 1 else (
                f" (its {others} other copies too)")
        problem = spec.source.problem(path, message)
        warning = Lint(code, message, path, where(same[0].row), problem.file, problem.line,
                       problem.column)
        found.append((order[id(same[0])], code, warning))
    return [warning for _, _, warning in sorted(found, key=lambda item: item[:2])]


def _findings(nodes: Sequence[Node], report: Report) -> Iterator[tuple[Node, Finding]]:
    for node in nodes:
        for rule in ROW_RULES:
            for finding in rule(node):
                yield node, finding
    for network_rule in NETWORK_RULES:
        yield from network_rule(nodes, report)


def _nodes(rows: Sequence[LayerReport]) -> list[Node]:
    """Rows with their context; the row after one in its list is the next row at its depth
    before any shallower one, with the next index (a new list restarts at 0)."""
    nodes: list[Node] = []
    stack: list[LayerReport] = []
    paths: list[SpecPath] = []
    for position, row in enumerate(rows):
        del stack[row.depth:]
        del paths[row.depth:]
        # Row paths leave out the composites' kinds (``layers[4].body[0]``); the spec has them.
        path = (*paths[-1], *parse_path(row.path[len(stack[-1].path):].lstrip("."))) if stack \
            else parse_path(row.path)
        end = position + 1  # past the rows inside this one
        while end < len(rows) and rows[end].depth > row.depth:
            end += 1
        after = None
        if end < len(rows) and (rows[end].depth, rows[end].index) == (row.depth, row.index + 1):
            after = Node(rows[end], _layer(rows[end]), None, (), True)
        leaf = position + 1 == len(rows) or rows[position + 1].depth <= row.depth
        nodes.append(Node(row, _layer(row), after, tuple(stack), leaf, (*path, row.kind)))
        stack.append(row)
        paths.append((*path, row.kind))
    return nodes


def _layer(row: LayerReport) -> Layer:
    if row.layer is None:
        raise ValueError(f"row {row.path} carries no layer; lints need an analysed spec")
    return row.layer


# --- rules on one row ---


def even_kernel_padding(node: Node) -> list[Finding]:
    """NS101: an even window padded to keep the size cannot, or shifts by half a pixel."""
    phrases = []
    for name, window in _axes(node):
        if window.stride != 1 or window.span % 2 or not (window.pad_left or window.pad_right):
            continue
        span = _kernel_text(window)
        fix = f"use an odd kernel such as {window.span + 1} with padding {window.span // 2}"
        if window.pad_left != window.pad_right:
            phrases.append((name, f"padding: same with the even {span} pads {window.pad_left} "
                            f"before and {window.pad_right} after: the size is kept but the "
                            f"output shifts half a pixel; {fix}"))
        elif abs(window.output - window.size) == 1:
            phrases.append((name, f"the even {span} with padding {window.pad_left} turns "
                            f"{window.size} into {window.output}: keeping the size needs "
                            f"{window.span - 1} padding in all, which two equal sides cannot "
                            f"give; {fix}"))
    return [("NS101", message) for message in _merge_axes(phrases)]


def bias_before_norm(node: Node) -> list[Finding]:
    """NS102: a per-channel bias right before a layer that subtracts each channel's mean."""
    bias = node.layer.channel_bias(node.row.in_shape)
    after = node.after
    if not bias or after is None or not after.layer.cancels_channel_bias(after.row.in_shape):
        return []
    return [("NS102", f"its bias ({bias:,} parameters) is cancelled by the {after.row.kind} "
             f"right after it, which subtracts each channel's mean; set bias: false to save "
             f"{bias:,} parameters")]


def dropped_rows(node: Node) -> list[Finding]:
    """NS103: floor division leaves the last input rows unread; say how many and which."""
    lost = []
    for name, window in _axes(node):
        if window.dropped:
            first = window.size - window.dropped
            word = ROW_WORDS.get(name, "positions")
            if window.dropped == 1:
                lost.append(f"the last {word[:-1]} of {window.size} on {name} ({word[:-1]} "
                            f"{first})")
            else:
                lost.append(f"the last {window.dropped} {word} of {window.size} on {name} "
                            f"({word} {first}..{window.size - 1})")
    if not lost:
        return []
    windows = [window for _, window in _axes(node)]
    kernel = "x".join(str(w.kernel) for w in windows)
    stride = "x".join(str(w.stride) for w in windows)
    return [("NS103", f"floor division drops {' and '.join(lost)}: no window of kernel "
             f"{kernel}, stride {stride} reaches them; choose an input size that tiles "
             "(netspec check --inputs), or change the padding or ceil_mode")]


def dropout_before_batch_norm(node: Node) -> list[Finding]:
    """NS104: dropout right before a normalisation that keeps running statistics."""
    after = node.after
    if not node.layer.is_dropout or after is None or not after.layer.uses_running_stats():
        return []
    return [("NS104", f"{node.row.kind} directly before {after.row.kind}: dropout changes the "
             f"variance of the activations between training and evaluation, so the running "
             f"statistics {after.row.kind} gathers in training do not fit evaluation (variance "
             f"shift); put dropout after the normalisation and activation")]


def activation_before_norm(node: Node) -> list[Finding]:
    """NS105: an activation right before a normalisation (the lecture: conv -> BN -> act)."""
    after = node.after
    if not node.layer.is_activation or after is None or not after.layer.is_normalization:
        return []
    return [("NS105", f"{node.row.kind} directly before {after.row.kind}: the lecture's order "
             f"is CONV/FC -> {after.row.kind} -> {node.row.kind}, normalising the layer's "
             "output before the nonlinearity")]


def branch_drop_outside_residual(node: Node) -> list[Finding]:
    """NS110: stochastic depth where no enclosing composite adds its path to another."""
    if not node.layer.drops_branch or any(
            row.layer is not None and row.layer.adds_paths() for row in node.ancestors):
        return []
    return [("NS110", f"{node.row.kind} outside a residual branch: in training it zeroes whole "
             "samples of everything after it, not a branch. Stochastic depth drops a residual "
             "branch, x + drop(f(x)): put it at the end of a Residual body")]


ROW_RULES: tuple[Callable[[Node], list[Finding]], ...] = (
    even_kernel_padding,
    bias_before_norm,
    dropped_rows,
    dropout_before_batch_norm,
    activation_before_norm,
    branch_drop_outside_residual,
)


# --- rules on the whole network ---


def collapsed_spatial(nodes: Sequence[Node], report: Report) -> Iterator[tuple[Node, Finding]]:
    """NS106: an axis shrinks to 1, and later layers still slide windows wider than 1 on it."""
    rank = len(report.input_shape)
    leaves = [n for n in nodes if n.leaf and len(n.row.in_shape) == len(n.row.out_shape) == rank]
    collapsed: set[int] = set()
    for position, node in enumerate(leaves):
        axes = [
            a for a in range(1, rank)
            if a not in collapsed and node.row.in_shape[a] > 1 and node.row.out_shape[a] == 1
        ]
        collapsed.update(axes)
        if not axes:
            continue
        wasted = [
            later for later in leaves[position + 1:]
            if any(later.row.in_shape[a] == 1 and w.span > 1
                   for a, w in zip(range(1, rank), later.layer.windows(later.row.in_shape),
                                   strict=False) if a in axes)
        ]
        if wasted:
            names = " and ".join(axis_names(rank - 1)[a - 1] for a in axes)
            first = wasted[0]
            kernel = "x".join(str(w.kernel) for w in first.layer.windows(first.row.in_shape))
            count = f"{len(wasted)} later layer{'s' if len(wasted) > 1 else ''}"
            yield node, ("NS106", f"the spatial size reaches 1 on {names} here "
                         f"({_shape(node.row.out_shape)}), yet {count} still slide windows "
                         f"wider than 1 over it (first: {where(first.row)}, kernel {kernel}): "
                         "they see mostly padding; downsample less, use a larger input, or "
                         "use 1x1 kernels there")


def receptive_field_vs_input(
    nodes: Sequence[Node], report: Report
) -> Iterator[tuple[Node, Finding]]:
    """NS107/NS108: the final field against the input, per spatial axis."""
    top = [node for node in nodes if node.row.depth == 0]
    sizes = report.input_shape[1:]
    if not top or not report.rf or len(report.rf) != len(sizes):
        return
    last = top[-1]
    field = "x".join(num(axis.size) for axis in report.rf)
    image = "x".join(map(str, sizes))
    words = " and ".join(dict.fromkeys(ROW_WORDS.get(name, "positions")
                                       for name in axis_names(len(sizes))))
    if any(axis.size < n for axis, n in zip(report.rf, sizes, strict=True)):
        if all(axis.positional for axis in report.rf):
            advice = ("the head never sees the whole input. For one prediction per input, end "
                      "with a global pool or Flatten + Linear; for dense outputs this is "
                      "expected (lint_ignore: [NS107])")
        else:
            advice = f"{words} dropped on the way (NS103) never reach the head"
        yield last, ("NS107", f"each output unit sees {field} of the {image} input: {advice}")
    if any(axis.size > FAR_LARGER * n for axis, n in zip(report.rf, sizes, strict=True)):
        yield last, ("NS108", f"the final receptive field {field} is more than {FAR_LARGER} "
                     f"times the {image} input: the deepest layers mostly see padding; the "
                     "network is deeper or downsamples later than this input size needs")


def dominant_layer(nodes: Sequence[Node], report: Report) -> Iterator[tuple[Node, Finding]]:
    """NS109: one layer holds most of the parameters (the Linear after a large Flatten)."""
    weighted = [node for node in nodes if node.leaf and node.row.params]
    if len(weighted) < 2 or not report.params:
        return
    top = max(weighted, key=lambda node: node.row.params)
    share = top.row.params / report.params
    if share <= MOST:
        return
    message = f"holds {top.row.params:,} of the {report.params:,} parameters ({share:.0%})"
    in_rf, flat = top.row.in_rf, top.row.in_shape
    raw_input = len(flat) == 1 and flat[0] == prod(report.input_shape)  # an MLP on the input
    if len(flat) == 1 and in_rf and not any(a.positional for a in in_rf) and not raw_input:
        message += (f"; its input is a flattened feature map of {top.row.in_shape[0]:,} values: "
                    "pooling the map smaller before Flatten (an adaptive average pool) or "
                    "fewer channels would shrink it")
    yield top, ("NS109", message)


NETWORK_RULES: tuple[Callable[[Sequence[Node], Report], Iterator[tuple[Node, Finding]]], ...] = (
    collapsed_spatial,
    receptive_field_vs_input,
    dominant_layer,
)


# --- helpers ---


def _axes(node: Node) -> list[tuple[str, Window]]:
    """(axis name, window) for each spatial axis of a windowed layer."""
    windows = node.layer.windows(node.row.in_shape)
    return list(zip(axis_names(len(windows)), windows, strict=True)) if windows else []


def _kernel_text(window: Window) -> str:
    if window.dilation == 1:
        return f"kernel {window.kernel}"
    return f"kernel {window.kernel} (dilation {window.dilation}, spanning {window.span})"


def _merge_axes(phrases: list[tuple[str, str]]) -> list[str]:
    """One message per distinct phrase, naming the axes it holds for: ``on H and W, ...``."""
    merged: dict[str, list[str]] = {}
    for name, phrase in phrases:
        merged.setdefault(phrase, []).append(name)
    return [f"on {' and '.join(names)}, {phrase}" for phrase, names in merged.items()]


def _shape(shape: Sequence[int]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def where(row: LayerReport) -> str:
    """``layers[7] Linear (f5)``: the row's spec path, kind and name when it has one."""
    named = f" ({row.name})" if row.name != str(row.index) else ""
    return f"{row.path} {row.kind}{named}"


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(text: str) -> SpecPath:
    """``layers[2].Residual.body[0]`` -> ``("layers", 2, "Residual", "body", 0)``."""
    path = tuple(int(index) if index else name for name, index in _PART.findall(text))
    if format_path(path) != text:
        raise ValueError(f"not a spec path: {text!r}")
    return path
