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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netspec.advice.lint_nodes import Finding, Node, nodes_of, parse_path, where
from netspec.advice.lints_network import NETWORK_RULES, channels_last_input
from netspec.core.errors import NetspecError, Problem, SpecError, SpecPath
from netspec.core.lint_codes import LINT_CODES, severity
from netspec.core.window import ROW_WORDS, Window, axis_names
from netspec.layers.plugins import blamed, describe

if TYPE_CHECKING:
    from netspec.analysis.analysis import Report
    from netspec.reading.spec import Spec

__all__ = ["LINT_CODES", "Lint", "lint", "parse_path", "where"]


@dataclass(frozen=True)
class Lint:
    """One warning or note: a code, the rule broken with its numbers, and the layer it is about.
    A warning is something a careful practitioner would change; a note is a fact worth
    knowing that textbook networks show by design (``netspec.core.lint_codes.NOTES``)."""

    code: str
    message: str
    path: SpecPath = ()
    where: str = ""
    """The row as the summary names it: ``layers[7] Linear (f5)``."""
    file: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def severity(self) -> str:
        """``"warning"`` or ``"note"``."""
        return severity(self.code)

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"

    @property
    def problem(self) -> Problem:
        """As a located problem: ``file:line:col: path: warning NS102: message``."""
        text = f"{self.severity} {self.code}: {self.message}"
        return Problem(text, self.path, self.file, self.line, self.column)

    def summary_line(self) -> str:
        """``NS109 layers[7] Linear (f5): holds ...``: one line under the summary table."""
        return f"{self.code} {self.where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """``netspec check --format json`` entry: a problem with a severity and a code."""
        return {**Problem(self.message, self.path, self.file, self.line, self.column).to_dict(),
                "severity": self.severity, "code": self.code}

    def __str__(self) -> str:
        return str(self.problem)


def lint(spec: Spec, report: Report | None = None) -> list[Lint]:
    """Every warning about ``spec``, in the order of its rows, located in its source."""
    from netspec.analysis.analysis import analyze

    report = report or analyze(spec)
    nodes = nodes_of(report.layers)
    ignored_everywhere = set(spec.lint_ignore)
    copies: dict[tuple[str, SpecPath, str], list[Node]] = {}
    for node, (code, message) in _asked(spec, nodes, report):
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
    at_input = [Lint(code, message, ("input",), "input", *_located(spec, ("input",), message))
                for code, message in channels_last_input(nodes, report)
                if code not in ignored_everywhere]
    return at_input + [warning for _, _, warning in sorted(found, key=lambda item: item[:2])]


def _located(spec: Spec, path: SpecPath, message: str) -> tuple[str | None, int | None,
                                                                 int | None]:
    problem = spec.source.problem(path, message)
    return problem.file, problem.line, problem.column


def _asked(spec: Spec, nodes: Sequence[Node], report: Report) -> list[tuple[Node, Finding]]:
    """The findings; a plugin kind that raises when a rule asks it is a located error naming
    it (``netspec.layers.plugins``), as when the analysis asks it."""
    try:
        return list(_findings(nodes, report))
    except NetspecError:
        raise
    except Exception as error:
        culprit = blamed(error)
        if culprit is None:
            raise
        path = next((node.path for node in nodes if node.layer is culprit), ())
        raise SpecError(spec.source.problem(path, (
            f"{describe(type(culprit))} raised {type(error).__name__} when the lints asked it "
            f"what it does: {error}"))) from None


def _findings(nodes: Sequence[Node], report: Report) -> Iterator[tuple[Node, Finding]]:
    for node in nodes:
        for rule in ROW_RULES:
            for finding in rule(node):
                yield node, finding
    for network_rule in NETWORK_RULES:
        yield from network_rule(nodes, report)


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
