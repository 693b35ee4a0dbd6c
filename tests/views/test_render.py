"""The table and Markdown renderers: cells, layout, golden files, column sums.

Golden files pin the layout; regenerate after an intended change with
``NETSPEC_UPDATE_GOLDEN=1 pytest tests/views/test_render.py`` and review the diff.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

import netspec
from netspec.analysis.analysis import Report
from netspec.core.shapes import AxisRF
from netspec.layers.base import LayerReport
from netspec.views import render
from tests import conv_stack as expected
from tests.golden_files import assert_golden

SPECS = sorted((Path(__file__).parents[2] / "specs").glob("*.yaml"))


def row(index: int, **fields: object) -> LayerReport:
    values: dict[str, object] = {
        "index": index, "path": f"layers[{index}]", "name": str(index), "kind": "Thing",
        "in_shape": (3, 8, 8), "out_shape": (3, 8, 8), "trainable_params": 0,
        "non_trainable_params": 0, "buffers": 0, "macs": 0, "rf": (AxisRF(), AxisRF()),
    }
    values.update(fields)
    return LayerReport(**values)  # type: ignore[arg-type]


def report(*rows: LayerReport, rf: tuple[AxisRF, ...] = ()) -> Report:
    return Report("demo", (3, 8, 8), tuple(rows), rf)


# --- cells ---


@pytest.mark.parametrize(
    ("value", "text"), [(0, "--"), (7, "7"), (1_234, "1,234"), (138_357_544, "138,357,544")]
)
def test_counts_have_thousands_separators_and_zero_is_empty(value: int, text: str) -> None:
    assert render.count(value) == text


def test_fractions_print_as_ints_when_whole() -> None:
    assert render.fraction(Fraction(7)) == "7"
    assert render.fraction(Fraction(1, 2)) == "0.5"
    assert render.fraction(Fraction(1, 3)) == "0.3333"


def test_receptive_field_cells() -> None:
    rf = (AxisRF(Fraction(7), Fraction(2)), AxisRF(Fraction(5), Fraction(4)))
    assert render.rf_size(rf) == "7x5"
    assert render.rf_jump(rf) == "2x4"
    assert render.rf_size(()) == render.rf_jump(()) == "--"
    whole = (AxisRF(Fraction(28), Fraction(28), positional=False),)
    assert render.rf_size(whole) == "28"
    assert render.rf_jump(whole) == "--"
    assert render.rf_jump((AxisRF(jump=Fraction(2)), whole[0])) == "2x-"


def test_layer_cell_shows_names_only_when_given_and_indents_by_depth() -> None:
    assert render.layer_cell(row(0, kind="Conv2d")) == "Conv2d"
    assert render.layer_cell(row(0, kind="Conv2d", name="stem")) == "Conv2d (stem)"
    assert render.layer_cell(row(1, kind="ReLU", depth=2)) == "    ReLU"


def test_frozen_parameters_are_in_parentheses() -> None:
    assert render.params_cell(row(0, trainable_params=10)) == "10"
    assert render.params_cell(row(0, non_trainable_params=1_000)) == "(1,000)"


# --- the table ---


def test_table_prints_every_column_and_empty_cells_as_dashes() -> None:
    text = render.table(report(row(0, kind="ReLU")), None)
    header = next(line for line in text.splitlines() if line.startswith("#"))
    assert header.split() == ["#", "Layer", "Output", "shape", "Params", "MACs", "RF", "Jump"]
    body = text.splitlines()[4]
    assert body.split() == ["0", "ReLU", "[3,", "8,", "8]", "--", "--", "1x1", "1x1"]


def test_table_totals_and_confirmation_line() -> None:
    rows = (row(0, trainable_params=1_000, macs=2_000_000), row(1, non_trainable_params=5))
    text = render.table(report(*rows, rf=(AxisRF(Fraction(3)),)), "torchinfo 9.9")
    assert "Total params:          1,005" in text
    assert "Trainable params:      1,000" in text
    assert "Non-trainable params:  5" in text
    assert "MACs (per sample):     2,000,000" in text
    assert "Receptive field:       3 (jump 1)" in text
    assert "(n): parameters that are not trained" in text
    assert text.endswith(
        "torchinfo 9.9 confirmed shapes, parameters and MACs on the built module.\n"
    )
    unconfirmed = render.table(report(*rows), None)
    assert "Not confirmed" in unconfirmed
    assert "Receptive field:       --" in unconfirmed


def test_nested_rows_are_indented() -> None:
    rows = (
        row(0, kind="Residual", trainable_params=4),
        row(0, kind="Conv2d", depth=1, trainable_params=4, path="layers[0].body[0]"),
        row(1, kind="Conv2d", trainable_params=4),
    )
    lines = render.table(report(*rows), None).splitlines()[4:7]
    assert re.match(r"0 +Residual ", lines[0])
    assert re.match(r"  body\[0\] +  Conv2d ", lines[1])
    assert re.match(r"1 +Conv2d ", lines[2])
    assert lines[0].index("Residual") == lines[1].index("Conv2d") - 2
    assert "Total params:          8" in render.table(report(*rows), None)


def test_markdown_is_a_pipe_table() -> None:
    rows = (
        row(0, kind="Conv2d", trainable_params=1_234),
        row(0, kind="ReLU", depth=1, path="layers[0].layers[0]"),
    )
    lines = render.markdown(report(*rows), None).splitlines()
    assert lines[0] == "### netspec summary: demo"
    assert lines[2] == "| # | Layer | Output shape | Params | MACs | RF | Jump |"
    assert lines[3] == "| :--- | :--- | :--- | ---: | ---: | :--- | :--- |"
    assert lines[4] == "| 0 | Conv2d | [3, 8, 8] | 1,234 | -- | 1x1 | 1x1 |"
    assert lines[5].startswith("| &nbsp;&nbsp;layers[0] | &nbsp;&nbsp;ReLU |")
    assert "- **Total params:** 1,234" in lines


# --- golden files and column sums on real specs ---


def test_golden_conv_stack_table() -> None:
    assert_golden("conv_stack.txt", netspec.summary(expected.PATH).to_table())


def test_golden_conv_stack_markdown() -> None:
    assert_golden("conv_stack.md", netspec.summary(expected.PATH).to_markdown())


def test_golden_conv_stack_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lints carry the spec's file as given: a path relative to the repository root, so
    that the golden file does not depend on where the repository is cloned."""
    root = expected.PATH.parent.parent.parent
    monkeypatch.chdir(root)
    relative = expected.PATH.relative_to(root)
    assert_golden("conv_stack.json", netspec.summary(relative).to_json() + "\n")


@pytest.mark.parametrize("path", SPECS, ids=[path.stem for path in SPECS])
def test_golden_table_of_every_bundled_spec(path: Path) -> None:
    assert_golden(f"specs/{path.stem}.txt", netspec.summary(path).to_table())


def printed_column_sums(text: str) -> tuple[int, int, dict[str, int]]:
    """Sum the printed Params and MACs of the top-level rows; read the printed totals."""
    lines = text.splitlines()
    header = lines[2]
    params_end = header.index("Params") + len("Params")
    macs_end = header.index("MACs") + len("MACs")
    body = lines[4:lines.index(lines[1], 4)]

    def number(cell: str) -> int:
        cell = cell.strip().strip("()")
        return 0 if cell == "--" else int(cell.replace(",", ""))

    top = [line for line in body if not line.startswith(" ")]
    # numbers are right-aligned: a row's cell is its last word before the end of the title
    params = sum(number(line[:params_end].split()[-1]) for line in top)
    macs = sum(number(line[:macs_end].split()[-1]) for line in top)
    totals = {}
    for match in re.finditer(r"^([A-Za-z -]+(?: \(per sample\))?):\s+([\d,]+)"
                             r"(?: \((\d+\.\d\d) ([KMGT])\))?$", text, re.M):
        totals[match[1]] = int(match[2].replace(",", ""))
        if match[3]:  # a large count also in units: 11,689,512 (11.69 M)
            power = {"K": 3, "M": 6, "G": 9, "T": 12}[match[4]]
            assert f"{totals[match[1]] / 10**power:.2f}" == match[3]
    return params, macs, totals


@pytest.mark.parametrize(
    "path", [expected.PATH, *SPECS], ids=["conv_stack", *[p.stem for p in SPECS]]
)
def test_printed_totals_are_the_sums_of_the_printed_rows(path: Path) -> None:
    params, macs, totals = printed_column_sums(netspec.summary(path, confirm=False).to_table())
    assert params == totals["Total params"]
    assert macs == totals["MACs (per sample)"]
    assert totals["Total params"] == totals["Trainable params"] + totals["Non-trainable params"]


def test_printed_conv_stack_totals_match_hand_arithmetic() -> None:
    params, macs, totals = printed_column_sums(netspec.summary(expected.PATH).to_table())
    assert params == expected.TOTAL_PARAMS
    assert macs == expected.TOTAL_MACS
    assert totals["Trainable params"] == expected.TOTAL_TRAINABLE
