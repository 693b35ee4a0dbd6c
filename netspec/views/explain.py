"""``netspec summary --explain``: each layer's arithmetic with the numbers substituted.

    0   Conv2d (c1)  [1, 28, 28] -> [6, 28, 28]
          H_out = floor((28 + 2*2 - 1*(5-1) - 1)/1) + 1 = 28
          params = 6*(1*5*5) + 6 = 156
          RF = 1 + (5-1)*1 = 5, jump = 1

The formulas come from the layer kinds themselves (``Layer.explain``); this module only lays
them out under each row. No torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from netspec.analysis.analysis import Report
from netspec.core.errors import NetspecError
from netspec.layers.base import LayerReport
from netspec.layers.plugins import describe, plugin_rule
from netspec.views.render import INDENT, index_label, layer_cell, shape

TITLE = "Arithmetic, numbers substituted (floor division, parameters, MACs, receptive field):"


def explain_row(row: LayerReport) -> list[str]:
    """The formulas for one row; empty for a composite row or a layer that changes nothing."""
    if row.layer is None:
        return []
    if not row.layer.plugin:
        return row.layer.explain(row.in_shape, row.in_rf)
    try:
        with plugin_rule(row.layer, "explain"):
            return row.layer.explain(row.in_shape, row.in_rf)
    except NetspecError as error:  # a plugin kind's arithmetic failed: say so in its place
        return [problem.message for problem in error.problems]


def explain_lines(rows: Sequence[LayerReport]) -> list[str]:
    """A header per row (``0  Conv2d (c1)  [1, 28, 28] -> [6, 28, 28]``), its formulas under
    it; rows that compute nothing say why in one line."""
    lines = [TITLE]
    for position, row in enumerate(rows):
        label = f"{INDENT * row.depth}{index_label(row)}  {layer_cell(row).strip()}"
        change = f"{shape(row.in_shape)} -> {shape(row.out_shape)}"
        formulas = explain_row(row)
        has_children = position + 1 < len(rows) and rows[position + 1].depth > row.depth
        if formulas:
            lines.append(f"{label}  {change}")
            lines += [f"{INDENT * (row.depth + 3)}{formula}" for formula in formulas]
        elif has_children:
            lines.append(f"{label}  {change}: the sums of the layers inside it")
        elif row.layer is not None and row.layer.plugin:
            lines.append(f"{label}  {change}: {describe(type(row.layer))} gives no arithmetic")
        elif row.in_shape == row.out_shape:
            lines.append(f"{label}  {shape(row.out_shape)}: shape and receptive field unchanged")
        else:
            lines.append(f"{label}  {change}")
    return lines


def explain(report: Report) -> str:
    """The whole block, as ``netspec summary --explain`` prints it under the table."""
    return "\n".join(explain_lines(report.layers)) + "\n"
