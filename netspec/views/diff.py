"""``netspec diff A B``: what changes, layer by layer and in total, between two analyses.

    d = netspec.diff.diff(netspec.analyze(a), netspec.analyze(b), "a.yaml", "b.yaml")
    print(d.to_text())      # changed rows only; all_rows=True for every row
    d.to_dict()             # every row, for scripts

Rows are matched by their kind, in order, the way ``diff`` matches lines (a layer moved into
a group still pairs up): an inserted layer shows as one added row and the rows
after it still pair up. A matched pair is "changed" when its output shape, parameters, MACs,
receptive field or module name differ. No torch.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from netspec.analysis.analysis import Report, analyze, load
from netspec.core.shapes import rf_to_dicts
from netspec.layers.base import RF, LayerReport
from netspec.views.render import (
    EMPTY,
    INDENT,
    count,
    index_label,
    layer_cell,
    rf_jump,
    rf_size,
    shape,
)

Change = Literal["same", "changed", "added", "removed"]
MARKS: dict[Change, str] = {"same": " ", "changed": "~", "added": "+", "removed": "-"}
TITLES = ("", "#", "Layer", "Output shape", "Params", "MACs", "RF", "Jump")
RIGHT = frozenset({4, 5})


@dataclass(frozen=True)
class RowDiff:
    """One row of either side: ``a`` (removed), ``b`` (added), or both (same, changed)."""

    change: Change
    a: LayerReport | None
    b: LayerReport | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "a": self.a.to_dict() if self.a else None,
            "b": self.b.to_dict() if self.b else None,
        }


@dataclass(frozen=True)
class Diff:
    """Two analyses, their labels, and their rows matched up."""

    a: Report
    b: Report
    a_label: str
    b_label: str
    rows: tuple[RowDiff, ...]

    @property
    def changed(self) -> bool:
        return any(row.change != "same" for row in self.rows) or bool(self.total_changes())

    def total_changes(self) -> list[str]:
        return [label for label, a, b in self.totals() if a != b]

    def totals(self) -> list[tuple[str, str, str]]:
        """(label, A's value, B's value) for the lines under the table."""
        return [
            ("Output shape", shape(self.a.output_shape), shape(self.b.output_shape)),
            *[(label, _total(get(self.a)), _total(get(self.b))) for label, get in _COUNTS],
            ("Receptive field", _field(self.a.rf), _field(self.b.rf)),
        ]

    def to_text(self, *, all_rows: bool = False) -> str:
        """The changed rows (every row with ``all_rows``) as a table, then the totals."""
        shown = [row for row in self.rows if all_rows or row.change != "same"]
        cells = [_cells(row) for row in shown]
        widths = [max([len(TITLES[i])] + [len(c[i]) for c in cells]) for i in range(len(TITLES))]

        def line(values: Sequence[str]) -> str:
            parts = [v.rjust(w) if i in RIGHT else v.ljust(w)
                     for i, (v, w) in enumerate(zip(values, widths, strict=True))]
            return "  ".join(parts).rstrip()

        header = line(TITLES)
        rule = "=" * len(header)
        body = [line(c) for c in cells] or ["(no layer changed)"]
        label_width = max(len(label) for label, _, _ in self.totals()) + 1
        footer = [
            f"{label + ':':<{label_width}}  {_change(a, b, _delta(a, b))}"
            for label, a, b in self.totals()
        ]
        hidden = len(self.rows) - len(shown)
        notes = [f"({hidden} unchanged row{'s' if hidden != 1 else ''} not shown; --all shows "
                 "them)"] if hidden else []
        return "\n".join([
            f"netspec diff: A = {self.a_label}, B = {self.b_label}",
            rule, header, rule, *body, rule, *footer, rule, *notes,
        ]) + "\n"

    def to_dict(self) -> dict[str, Any]:
        def side(report: Report, label: str) -> dict[str, Any]:
            return {"label": label, "name": report.name, "input_shape": list(report.input_shape),
                    "output_shape": list(report.output_shape)}

        totals: dict[str, Any] = {
            key: {"a": get(self.a), "b": get(self.b), "delta": _minus(get(self.b), get(self.a))}
            for key, get in _TOTAL_KEYS
        }
        totals["receptive_field"] = {"a": rf_to_dicts(self.a.rf), "b": rf_to_dicts(self.b.rf)}
        return {
            "a": side(self.a, self.a_label),
            "b": side(self.b, self.b_label),
            "changed": self.changed,
            "layers": [row.to_dict() for row in self.rows],
            "totals": totals,
        }


_COUNTS: list[tuple[str, Callable[[Report], int | None]]] = [
    ("Total params", lambda r: r.params),
    ("Trainable params", lambda r: r.trainable_params),
    ("Buffers", lambda r: r.buffers),
    ("MACs (per sample)", lambda r: r.macs),
]
_TOTAL_KEYS: list[tuple[str, Callable[[Report], int | None]]] = [
    ("params", lambda r: r.params),
    ("trainable_params", lambda r: r.trainable_params),
    ("non_trainable_params", lambda r: r.non_trainable_params),
    ("buffers", lambda r: r.buffers),
    ("macs", lambda r: r.macs),
]


def diff(a: Report, b: Report, a_label: str = "A", b_label: str = "B") -> Diff:
    """Match the rows of ``a`` and ``b`` and say what changed."""
    keys_a, keys_b = [_key(row) for row in a.layers], [_key(row) for row in b.layers]
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    rows: list[RowDiff] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for row_a, row_b in zip(a.layers[i1:i2], b.layers[j1:j2], strict=True):
                same = _facts(row_a) == _facts(row_b)
                rows.append(RowDiff("same" if same else "changed", row_a, row_b))
            continue
        rows += [RowDiff("removed", row, None) for row in a.layers[i1:i2]]
        rows += [RowDiff("added", None, row) for row in b.layers[j1:j2]]
    return Diff(a, b, a_label, b_label, tuple(rows))


def compare(
    a: str,
    b: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    params_a: Mapping[str, Any] | None = None,
    params_b: Mapping[str, Any] | None = None,
    input_a: Sequence[int] | None = None,
    input_b: Sequence[int] | None = None,
) -> Diff:
    """Load and diff two specs, or two variants of one (``b`` None): ``params`` apply to both
    sides, ``params_a``/``params_b`` and ``input_a``/``input_b`` to one."""
    from netspec.reading.spec import check_input_shape

    sides = []
    for path, own, sample in ((a, params_a, input_a), (b or a, params_b, input_b)):
        values = {**(params or {}), **(own or {})}
        spec = load(path, params=values)
        if sample is not None:
            spec = spec.with_input(check_input_shape(sample, spec))
        variant = [f"{key}={value}" for key, value in (own or {}).items()]
        variant += [f"input {'x'.join(map(str, sample))}"] if sample is not None else []
        sides.append((analyze(spec), f"{path} ({', '.join(variant)})" if variant else str(path)))
    (report_a, label_a), (report_b, label_b) = sides
    return diff(report_a, report_b, label_a, label_b)


def _key(row: LayerReport) -> str:
    """What must agree for two rows to be the same layer: the kind. Depth may differ, so that
    layers moved into a group (``features``) still pair up."""
    return row.kind


def _name(row: LayerReport) -> str | None:
    """The ``name:`` given in the spec; None for the default, the row's index."""
    return None if row.name == str(row.index) else row.name


def _facts(row: LayerReport) -> tuple[Any, ...]:
    return (_name(row), row.out_shape, row.params, row.trainable_params, row.buffers, row.macs,
            rf_size(row.rf), rf_jump(row.rf))


def _cells(row: RowDiff) -> list[str]:
    a, b = row.a, row.b
    first = b or a
    if first is None:  # pragma: no cover - a RowDiff always has a side
        raise ValueError("a row without sides")
    index = INDENT * first.depth + index_label(first)

    def pair(text: Callable[[LayerReport], str],
             numeric: Callable[[LayerReport], int | None] | None = None) -> str:
        if a is None or b is None:
            return text(first)
        change = _minus(numeric(b), numeric(a)) if numeric else None
        delta = _signed(change) if change is not None else ""
        return _change(text(a), text(b), delta)

    return [
        MARKS[row.change],
        index,
        layer_cell(first) if a is None or b is None or _name(a) == _name(b) else
        f"{layer_cell(a).strip()} -> {_name(b) or 'unnamed'}",
        pair(lambda r: shape(r.out_shape)),
        pair(lambda r: count(r.params), lambda r: r.params),
        pair(lambda r: count(r.macs), lambda r: r.macs),
        pair(lambda r: rf_size(r.rf)),
        pair(lambda r: rf_jump(r.rf)),
    ]


def _change(a: str, b: str, delta: str = "") -> str:
    """``a`` when equal, else ``a -> b`` and the difference in parentheses."""
    if a == b:
        return a
    return f"{a} -> {b}" + (f" ({delta})" if delta else "")


def _total(value: int | None) -> str:
    """A total as printed: ``1,234``, or ``?`` when a plugin kind does not count it."""
    return count(value) if value is None else f"{value:,}"


def _minus(b: int | None, a: int | None) -> int | None:
    return None if a is None or b is None else b - a


def _signed(value: int) -> str:
    return f"{value:+,}" if value else ""


def _delta(a: str, b: str) -> str:
    """``+2,052, +69.6%`` between two printed counts; nothing for other values."""
    try:
        before, after = int(a.replace(",", "")), int(b.replace(",", ""))
    except ValueError:
        return ""
    if before == after:
        return ""
    if not before:
        return f"{after - before:+,}"
    percent = 100 * (after - before) / before
    share = f"{percent:+.1f}%" if abs(percent) >= 0.1 else f"{'+' if percent > 0 else '-'}<0.1%"
    return f"{after - before:+,}, {share}"


def _field(rf: RF) -> str:
    if not rf:
        return EMPTY
    jump = rf_jump(rf)
    return rf_size(rf) + (f" (jump {jump})" if jump != EMPTY else " (whole input)")
