"""``netspec diff``: rows matched and compared on two hand-worked specs, and on variants of one.

A: [3, 8, 8] -> Conv2d 4 (3x3, pad 1) -> ReLU -> Flatten -> Linear 10
   conv 4*(3*3*3) + 4 = 112, MACs (4*64)*27 = 6,912; Flatten 4*8*8 = 256; Linear 10*256 + 10 =
   2,570 params, 256*10 = 2,560 MACs; total 2,682 params, 6,912 + 2,560 = 9,472 MACs;
   field 3 + (8-1)*1 = 10 (whole input)
B: the convolution widened to 8 and a 2x2 max pool inserted after the ReLU
   conv 8*27 + 8 = 224, MACs (8*64)*27 = 13,824; pool -> [8, 4, 4]; Flatten 128; Linear 1,290
   params, 1,280 MACs; total 1,514 params (-1,168: -43.5%), 13,824 + 1,280 = 15,104 MACs
   (+5,632: 5,632/9,472 = +59.5%);
   field: 3, then the pool 3 + 1 = 4 jump 2, then Flatten 4 + (4-1)*2 = 10 (whole input)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import netspec
from netspec.cli.commands import main
from netspec.views.diff import compare, diff

A = """\
name: small
input: [3, 8, 8]
params: {width: 4, pool: 0}
layers:
  - Conv2d: {out_channels: width, kernel_size: 3, padding: 1}
  - ReLU
  - Repeat: {times: pool, layers: [{MaxPool2d: {kernel_size: 2}}]}
  - Flatten
  - Linear: {out_features: 10}
"""


@pytest.fixture
def spec_a(tmp_path: Path) -> Path:
    path = tmp_path / "a.yaml"
    path.write_text(A)
    return path


@pytest.fixture
def spec_b(tmp_path: Path) -> Path:
    path = tmp_path / "b.yaml"
    path.write_text(A.replace("width: 4, pool: 0", "width: 8, pool: 1"))
    return path


def test_rows_are_matched_and_compared(spec_a: Path, spec_b: Path) -> None:
    result = compare(str(spec_a), str(spec_b))
    assert [(row.change, (row.a or row.b).kind) for row in result.rows] == [  # type: ignore[union-attr]
        ("changed", "Conv2d"), ("changed", "ReLU"), ("added", "MaxPool2d"),
        ("changed", "Flatten"), ("changed", "Linear"),
    ]
    assert result.changed


def test_text_shows_changes_with_deltas_and_the_totals(spec_a: Path, spec_b: Path) -> None:
    lines = compare(str(spec_a), str(spec_b)).to_text().splitlines()
    assert lines[0] == f"netspec diff: A = {spec_a}, B = {spec_b}"
    body = [line.split() for line in lines[4:9]]
    assert body[0][:3] == ["~", "0", "Conv2d"]
    assert " ".join(body[0]).startswith(
        "~ 0 Conv2d [4, 8, 8] -> [8, 8, 8] 112 -> 224 (+112) 6,912 -> 13,824 (+6,912) 3x3 1x1")
    assert " ".join(body[2]) == "+ 2 MaxPool2d [8, 4, 4] -- -- 4x4 2x2"
    assert " ".join(body[3]) == "~ 3 Flatten [256] -> [128] -- -- 10x10 --"
    assert " ".join(body[4]) == "~ 4 Linear [10] 2,570 -> 1,290 (-1,280) 2,560 -> 1,280 (-1,280) " \
                                "10x10 --"
    assert lines[10:16] == [
        "Output shape:       [10]",
        "Total params:       2,682 -> 1,514 (-1,168, -43.5%)",
        "Trainable params:   2,682 -> 1,514 (-1,168, -43.5%)",
        "Buffers:            0",
        "MACs (per sample):  9,472 -> 15,104 (+5,632, +59.5%)",
        "Receptive field:    10x10 (whole input)",
    ]


def test_variants_of_one_spec(spec_a: Path) -> None:
    result = compare(str(spec_a), params_b={"width": 8})
    assert result.b_label == f"{spec_a} (width=8)"
    assert [row.change for row in result.rows] == ["changed", "changed", "changed", "changed"]
    # Linear: 10*(8*8*8) + 10 = 5,130 against 2,570
    linear = result.rows[-1]
    assert (linear.a.params, linear.b.params) == (2_570, 5_130)  # type: ignore[union-attr]


def test_another_input_size(spec_a: Path) -> None:
    result = compare(str(spec_a), input_b=(3, 16, 16))
    assert result.b_label == f"{spec_a} (input 3x16x16)"
    # conv params unchanged (112), MACs (4*256)*27 = 27,648; Linear 10*1,024 + 10 = 10,250
    assert result.rows[0].change == "changed"
    assert (result.rows[0].b.params, result.rows[0].b.macs) == (112, 27_648)  # type: ignore[union-attr]
    assert result.b.params == 112 + 10_250


def test_identical_specs_have_no_changes(spec_a: Path) -> None:
    result = compare(str(spec_a), str(spec_a))
    assert not result.changed
    text = result.to_text()
    assert "(no layer changed)" in text
    assert "(4 unchanged rows not shown; --all shows them)" in text
    every = result.to_text(all_rows=True)
    assert "(no layer changed)" not in every and "not shown" not in every
    assert len(every.splitlines()) == len(text.splitlines()) - 2 + 4  # the four rows, unmarked


def test_moved_into_a_group_still_pairs_up() -> None:
    flat = netspec.analyze(netspec.load(A))
    grouped = netspec.analyze(netspec.load(A.replace(
        "  - Conv2d: {out_channels: width, kernel_size: 3, padding: 1}\n  - ReLU\n",
        "  - Sequential: {name: stem, layers: [{Conv2d: {out_channels: width, kernel_size: 3, "
        "padding: 1}}, ReLU]}\n")))
    result = diff(flat, grouped)
    assert [row.change for row in result.rows] == ["added", "same", "same", "same", "same"]


def test_json_has_every_row_and_the_totals(spec_a: Path, spec_b: Path) -> None:
    data = compare(str(spec_a), str(spec_b)).to_dict()
    assert data["changed"] is True
    assert [layer["change"] for layer in data["layers"]] == [
        "changed", "changed", "added", "changed", "changed"]
    assert data["layers"][2]["a"] is None
    assert data["totals"]["params"] == {"a": 2_682, "b": 1_514, "delta": -1_168}
    assert data["totals"]["macs"] == {"a": 9_472, "b": 15_104, "delta": 5_632}
    assert data["b"]["label"] == str(spec_b)


def test_cli(spec_a: Path, spec_b: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(spec_a), str(spec_b)]) == 0
    assert "Total params:       2,682 -> 1,514" in capsys.readouterr().out
    assert main(["diff", str(spec_a), "--set-b", "width=8", "--exit-code"]) == 1
    assert main(["diff", str(spec_a), str(spec_a), "--exit-code"]) == 0
    capsys.readouterr()
    assert main(["diff", str(spec_a), "--input-b", "3x16x16", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["b"]["input_shape"] == [3, 16, 16]
    with pytest.raises(SystemExit) as usage:
        main(["diff", str(spec_a)])
    assert usage.value.code == 2
    assert "diff needs a second spec B" in capsys.readouterr().err


WITHOUT_TORCH = """\
import sys
from netspec.cli import main
codes = [main(["diff", sys.argv[1], "--set-b", "width=8"]),
         main(["check", sys.argv[1], "--inputs", "--strict"])]
assert "torch" not in sys.modules, "torch was imported"
sys.exit(sum(codes))
"""


def test_diff_and_check_inputs_do_not_import_torch(spec_a: Path) -> None:
    result = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, str(spec_a)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr  # --strict: NS109 is a note, not a warning
    assert "torch was imported" not in result.stderr
