"""Formatting of a summary: the plain-text table and its Markdown twin. No torch, no arithmetic.

The facts live in ``Report``/``LayerReport`` (one row per layer, totals as properties); this module
only turns them into text, so a change of layout never changes a number. Columns are an enum
with one dict of titles, as in torchinfo's ``FormattingOptions``; an empty cell prints ``--``.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from fractions import Fraction
from typing import Any

from netspec.analysis.analysis import Report
from netspec.analysis.memory import Memory, megabytes
from netspec.core.shapes import Shape, beyond_text, spatial_columns, undefined_reason
from netspec.layers.base import RF, LayerReport

EMPTY = "--"
UNKNOWN = "?"
"""A number the layer's kind does not give (a plugin kind without ``macs`` or
``receptive_field``)."""
INDENT = "  "


class Column(Enum):
    INDEX = "index"
    LAYER = "layer"
    OUTPUT = "output_shape"
    PARAMS = "params"
    MACS = "macs"
    RF = "receptive_field"
    JUMP = "jump"


TITLES: dict[Column, str] = {
    Column.INDEX: "#",
    Column.LAYER: "Layer",
    Column.OUTPUT: "Output shape",
    Column.PARAMS: "Params",
    Column.MACS: "MACs",
    Column.RF: "RF",
    Column.JUMP: "Jump",
}
RIGHT_ALIGNED = frozenset({Column.PARAMS, Column.MACS})  # the index is indented by depth
COLUMNS = tuple(Column)


# --- cells ---


def count(value: int | None) -> str:
    """``1234567`` -> ``1,234,567``; zero is an empty cell, an unknown count ``?``."""
    if value is None:
        return UNKNOWN
    return f"{value:,}" if value else EMPTY


def shape(value: Shape) -> str:
    return "[" + ", ".join(str(size) for size in value) + "]"


def fraction(value: Fraction) -> str:
    """Whole numbers as ints; jumps below one pixel (transposed convs, upsampling) as decimals;
    ``>2^48`` past the receptive-field bound (``netspec.core.shapes.RF_BOUND``)."""
    beyond = beyond_text(value)
    if beyond is not None:
        return beyond
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.4g}"


def rf_size(rf: RF) -> str:
    """``7x7``: pixels of the input one unit sees, per spatial axis; ``--`` without spatial axes."""
    reason = undefined_reason(rf)
    if reason:
        return f"n/a ({reason})"
    rf = spatial_columns(rf)
    return "x".join(fraction(axis.size) if axis.known else UNKNOWN for axis in rf) if rf else EMPTY


def rf_jump(rf: RF) -> str:
    """``2x2``: input pixels between neighbouring units. An axis that is no longer positional
    (after a global pool or ``Flatten`` every unit sees its whole span) has no jump: ``-``, and
    ``--`` when no axis is positional."""
    rf = spatial_columns(rf)
    if not any(axis.positional or not axis.known for axis in rf):
        return EMPTY
    return "x".join(fraction(axis.jump) if axis.positional else "-" if axis.known else UNKNOWN
                    for axis in rf)


def params_cell(row: LayerReport) -> str:
    """Parameter count; in parentheses when some of them are not trained (as torchinfo)."""
    if row.non_trainable_params:
        return f"({row.params:,})"
    return count(row.params)


def index_label(row: LayerReport) -> str:
    """``3`` at the top; inside a composite, the list it sits in: ``body[0]``, ``shortcut[1]``."""
    if row.depth == 0:
        return str(row.index)
    segments = row.path.split(".")
    while len(segments) > 2 and segments[-2] == "Repeat":  # a copy: its list is the Repeat's
        segments = segments[:-2]
    last = segments[-1]
    return f"{last[: last.rindex('[')]}[{row.index}]" if "[" in last else str(row.index)


def layer_cell(row: LayerReport) -> str:
    """``Conv2d``, or ``Conv2d (stem)`` when the spec names the layer; indented by depth."""
    label = row.kind if row.name == str(row.index) else f"{row.kind} ({row.name})"
    return INDENT * row.depth + label


def cells(row: LayerReport) -> dict[Column, str]:
    return {
        Column.INDEX: INDENT * row.depth + index_label(row),
        Column.LAYER: layer_cell(row),
        Column.OUTPUT: shape(row.out_shape),
        Column.PARAMS: params_cell(row),
        Column.MACS: count(row.macs),
        Column.RF: rf_size(row.rf),
        Column.JUMP: rf_jump(row.rf),
    }


# --- totals and confirmation, shared by both formats ---


def totals(report: Report, memory: Memory | None = None, *, units: bool = True
           ) -> list[tuple[str, str]]:
    """(label, value) lines under the table; ``units`` adds ``(138.36 M)`` to large counts
    (the table; Markdown keeps the exact integers alone)."""
    rf = report.rf
    if undefined_reason(rf):
        receptive = f"not defined: the input holds {undefined_reason(rf)}, not pixels"
    elif rf and not all(axis.known for axis in rf):
        receptive = f"{UNKNOWN} ({_lost_field(report)})"
    elif rf:
        jump = rf_jump(rf)
        receptive = rf_size(rf) + (f" (jump {jump})" if jump != EMPTY else " (whole input)")
    else:
        receptive = EMPTY

    def exact(value: int) -> str:
        return f"{value:,}" + (f" ({short_count(value)})" if units and value >= 10**6 else "")

    lines = [
        ("Input shape", shape(report.input_shape)),
        ("Output shape", shape(report.output_shape)),
        ("Total params", exact(report.params)),
        ("Trainable params", exact(report.trainable_params)),
        ("Non-trainable params", exact(report.non_trainable_params)),
        ("Buffers", exact(report.buffers)),
        ("MACs (per sample)", _macs_total(report, exact)),
        ("Receptive field", receptive),
    ]
    return lines + ([] if memory is None else memory_lines(memory))


def _macs_total(report: Report, exact: Callable[[int], str]) -> str:
    """``1,234``; ``? (1,000 in the layers that count them)`` when a plugin kind does not."""
    if report.macs is not None:
        return exact(report.macs)
    known = sum(row.macs or 0 for row in report.top_level())
    return f"{UNKNOWN} ({known:,} in the layers that count them; a plugin kind does not)"


def memory_lines(memory: Memory) -> list[tuple[str, str]]:
    """Weights by dtype, activations per sample, and the batch's totals (``--batch``)."""
    def by_dtype(counts: dict[str, int]) -> str:
        total = megabytes(sum(counts.values()))
        return f"{total} ({', '.join(counts)})" if counts else total

    lines = [
        ("Params memory", by_dtype(memory.parameter_bytes)),
        ("Buffers memory", by_dtype(memory.buffer_bytes)),
        ("Activations per sample", f"{megabytes(memory.inference_bytes)} inference, "
                                   f"{megabytes(memory.training_bytes)} training"),
        (f"Total, batch of {memory.batch:,}", f"{megabytes(memory.batch_inference_bytes)} "
         f"inference, {megabytes(memory.batch_training_bytes)} training (with gradients)"),
    ]
    return lines


def short_count(value: int) -> str:
    """``138.36 M``, ``15.47 G``: three significant decimals' worth, as torchinfo and Keras."""
    for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return str(value)


def confirmation(confirmed_by: str | None, theirs: Mapping[str, Any] | None = None) -> str:
    if confirmed_by is None:
        return "Not confirmed: the torchinfo check was skipped (confirm=False, --no-confirm)."
    line = f"{confirmed_by} confirmed shapes, parameters and MACs on the built module."
    if theirs is None:
        return line
    return (f"{line}\ntorchinfo's own estimates per sample: {theirs['torchinfo_mult_adds']:,} "
            f"mult-adds (biases and norms charged too); params "
            f"{megabytes(theirs['torchinfo_params_bytes'])}, forward/backward pass "
            f"{megabytes(theirs['torchinfo_forward_backward_bytes'])}.")


def title(report: Report) -> str:
    return f"netspec summary: {report.name}" if report.name else "netspec summary"


# --- the two layouts ---


def table(report: Report, confirmed_by: str | None, warnings: Sequence[str] = (),
          theirs: Mapping[str, Any] | None = None, memory: Memory | None = None) -> str:
    """The plain-text table: aligned columns, ``=`` rules, totals, the lint ``warnings``, the
    confirmation line and torchinfo's own figures (``theirs``)."""
    rows = [cells(row) for row in report.layers]
    widths = {
        column: max([len(TITLES[column])] + [len(row[column]) for row in rows])
        for column in COLUMNS
    }

    def line(values: dict[Column, str]) -> str:
        parts = [_align(values[c], widths[c], c in RIGHT_ALIGNED) for c in COLUMNS]
        return "  ".join(parts).rstrip()

    header = line(TITLES)
    rule = "=" * len(header)
    body = [line(row) for row in rows]
    listed = totals(report, memory)
    label_width = max(len(label) for label, _ in listed)
    footer = [f"{label + ':':<{label_width + 1}}  {value}" for label, value in listed]
    notes = _notes(report)
    return "\n".join(
        [title(report), rule, header, rule, *body, rule, *footer, rule,
         *_warning_lines(warnings, max(len(rule), 100)), *notes,
         confirmation(confirmed_by, theirs)]
    ) + "\n"


def markdown(report: Report, confirmed_by: str | None, warnings: Sequence[str] = (),
             theirs: Mapping[str, Any] | None = None, memory: Memory | None = None) -> str:
    """GitHub-flavoured Markdown: a heading, a pipe table, the totals and warnings as lists."""
    rows = [cells(row) for row in report.layers]
    header = _md_row([TITLES[c] for c in COLUMNS])
    align = _md_row(["---:" if c in RIGHT_ALIGNED else ":---" for c in COLUMNS])
    body = [_md_row([_md_cell(row[c]) for c in COLUMNS]) for row in rows]
    footer = [f"- **{label}:** {value}" for label, value in totals(report, memory, units=False)]
    return "\n".join(
        [f"### {_md_text(title(report))}", "", header, align, *body, "", *footer, "",
         *_md_warnings(warnings), *_notes(report), confirmation(confirmed_by, theirs)]
    ) + "\n"


WARNINGS = "Lint warnings (docs/lints.md; lint_ignore: [CODE] on a layer silences one):"
"""The heading of the lint lines (warnings, and the notes marked ``(note)`` when shown)."""


def _warning_lines(warnings: Sequence[str], width: int) -> list[str]:
    """The lint warnings, each wrapped to ``width`` with a hanging indent."""
    if not warnings:
        return []
    wrapped = [textwrap.fill(text, width, initial_indent=INDENT, subsequent_indent=INDENT * 3,
                             break_on_hyphens=False) for text in warnings]
    return [WARNINGS, *wrapped]


def _md_warnings(warnings: Sequence[str]) -> list[str]:
    if not warnings:
        return []
    return [f"**{WARNINGS}**", "", *[f"- {_md_cell(text)}" for text in warnings], ""]


def _lost_field(report: Report) -> str:
    """Why the network's field is unknown: the first layer (the innermost, when a block's own
    merge is not to blame) whose field is unknown on a known input."""
    lost = [row for row in report.layers
            if not all(axis.known for axis in row.rf) and all(axis.known for axis in row.in_rf)]
    leaves = [row for row in lost if row.layer is None or not row.layer.composite]
    row = (leaves or lost)[0]
    if row.layer is not None and row.layer.plugin:
        return "a plugin kind does not give it"
    return f"{row.kind} at {row.path} leaves an axis whose field cannot be followed"


def _notes(report: Report) -> list[str]:
    notes = []
    if any(row.non_trainable_params for row in report.layers):
        notes.append("(n): parameters that are not trained (trainable: false).")
    plugins = [row.kind for row in report.layers if row.layer is not None and row.layer.plugin]
    if plugins:
        kinds = ", ".join(dict.fromkeys(plugins))
        notes.append(f"Plugin kinds ({kinds}): torch confirms their shapes and parameters, not "
                     f"their MACs; {UNKNOWN} marks a number a plugin kind does not give.")
    return notes


def _align(text: str, width: int, right: bool) -> str:
    return text.rjust(width) if right else text.ljust(width)


def _md_cell(text: str) -> str:
    """Keep the depth indent visible (Markdown collapses leading spaces)."""
    stripped = text.lstrip(" ")
    return "&nbsp;" * (len(text) - len(stripped)) + _md_text(stripped).replace("|", "\\|")


def _md_text(text: str) -> str:
    """Text from the spec (``name:``) as Markdown shows it, never as HTML or a line break:
    ``<script>`` becomes ``&lt;script&gt;``."""
    return html.escape(" ".join(text.splitlines()), quote=False)


def _md_row(values: Sequence[str]) -> str:
    return "| " + " | ".join(values) + " |"
