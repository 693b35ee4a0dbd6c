"""The command line, run as users run it: ``python -m netspec`` in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torchinfo

import netspec
from netspec.cli import commands as cli
from netspec.layers import Conv2d
from tests import conv_stack as expected

ROOT = Path(__file__).parents[2]

BAD_SPEC = """\
name: bad
input: [3, 32, 32]
layers:
  - Conv2d: {out_channels: 8, kernal_size: 3}
  - conv2d: {out_channels: 8, kernel_size: 3}
"""
TOO_SMALL = """\
input: [3, 8, 8]
layers:
  - Conv2d: {out_channels: 8, kernel_size: 3}
  - Conv2d: {out_channels: 8, kernel_size: 9}
"""


def run(*args: str, python_code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", python_code] if python_code else [
        sys.executable, "-m", "netspec"
    ]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )


@pytest.fixture
def bad_spec(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_SPEC)
    return path


@pytest.fixture
def too_small(tmp_path: Path) -> Path:
    path = tmp_path / "too_small.yaml"
    path.write_text(TOO_SMALL)
    return path


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr


# --- summary ---


def test_summary_table() -> None:
    result = run("summary", str(expected.PATH))
    assert result.returncode == 0, result.stderr
    assert "Conv2d (stem)" in result.stdout
    assert re.search(r"^Total params: +2,948$", result.stdout, re.M)
    assert re.search(r"^MACs \(per sample\): +577,152$", result.stdout, re.M)
    assert (f"torchinfo {torchinfo.__version__} and FlopCounterMode confirmed shapes, "
            "parameters and MACs") in result.stdout


def test_summary_json() -> None:
    result = run("summary", str(expected.PATH), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["totals"]["params"] == expected.TOTAL_PARAMS
    assert data["totals"]["macs"] == expected.TOTAL_MACS
    assert data["confirmed_by"] == f"torchinfo {torchinfo.__version__} and FlopCounterMode"
    assert data["netspec_version"] == netspec.__version__


def test_summary_markdown() -> None:
    result = run("summary", str(expected.PATH), "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("### netspec summary: conv_stack\n")
    assert "| 0 | Conv2d (stem) | [8, 32, 32] | 224 | 221,184 | 3x3 | 1x1 |" in result.stdout


def test_summary_input_override_and_no_confirm() -> None:
    # see tests/views/test_summary.py::test_input_shape_override for the arithmetic
    result = run("summary", str(expected.PATH), "--input", "3x64x64", "--no-confirm")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^Output shape: +\[4, 50, 46\]$", result.stdout, re.M)
    assert "Not confirmed" in result.stdout


@pytest.mark.parametrize("shape", ["3xfoo", "3x0x8", "", "3x-1"])
def test_summary_bad_input_is_a_usage_error(shape: str) -> None:
    result = run("summary", str(expected.PATH), "--input", shape)
    assert result.returncode == 2
    assert "--input" in result.stderr
    assert_no_traceback(result)


def test_summary_input_too_small_is_a_located_spec_error() -> None:
    result = run("summary", str(expected.PATH), "--input", "3x8x8")
    assert result.returncode == 1
    assert f"{expected.PATH}:8:" in result.stderr
    assert_no_traceback(result)


def test_summary_of_a_bad_spec(bad_spec: Path) -> None:
    result = run("summary", str(bad_spec))
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{bad_spec}:4:" in result.stderr
    assert "did you mean kernel_size?" in result.stderr
    assert_no_traceback(result)


# --- check ---


def test_check_ok() -> None:
    result = run("check", str(expected.PATH))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{expected.PATH}: ok (4 layers, 2,948 params, 577,152 MACs, out [4, 18, 14])\n"
    )
    # the stride-2 convolution drops row 31 (NS103); the output is a map (NS107): both are
    # notes, which the summary shows (--notes) and check does not
    assert result.stderr == ""
    notes = netspec.summary(expected.PATH, confirm=False).lints
    assert [(found.severity, found.code) for found in notes] == [("note", "NS103"),
                                                                  ("note", "NS107")]


def test_check_bad_reports_every_problem_located(bad_spec: Path) -> None:
    result = run("check", str(bad_spec))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(
        line.startswith(f"{bad_spec}:4:") and "kernal_size" in line
        and "did you mean kernel_size?" in line
        for line in lines
    ), lines
    assert any(line.startswith(f"{bad_spec}:5:") and "did you mean Conv2d?" in line
               for line in lines), lines
    assert_no_traceback(result)


def test_check_shape_error_names_the_layer(too_small: Path) -> None:
    result = run("check", str(too_small))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{too_small}:4:")
    assert "layers[1]" in result.stderr
    assert_no_traceback(result)


def test_check_several_specs_reports_each(bad_spec: Path) -> None:
    result = run("check", str(expected.PATH), str(bad_spec), "missing.yaml")
    assert result.returncode == 1
    assert f"{expected.PATH}: ok (" in result.stdout
    assert f"{bad_spec}:4:" in result.stderr
    assert "missing.yaml: no such spec file" in result.stderr
    assert_no_traceback(result)


def test_check_json(bad_spec: Path) -> None:
    result = run("check", str(expected.PATH), str(bad_spec), "--format", "json")
    assert result.returncode == 1
    problems = json.loads(result.stdout)
    assert len(problems) >= 2
    errors = [problem for problem in problems if problem["severity"] == "error"]
    for problem in problems:
        assert set(problem) == {"file", "line", "column", "path", "message", "severity", "code"}
    for problem in errors:
        assert problem["file"] == str(bad_spec)
        assert problem["code"] is None
    assert [problem for problem in problems if problem not in errors] == []  # only notes
    first = errors[0]
    assert (first["line"], first["path"]) == (4, "layers[0].Conv2d.kernal_size")


def test_check_json_clean_is_an_empty_list() -> None:
    result = run("check", str(ROOT / "specs" / "resnet18.yaml"), "--format", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == []


CHECK_WITHOUT_TORCH = textwrap.dedent("""\
    import sys
    {block}
    from netspec.cli import main
    code = main(sys.argv[1:])
    assert "torch" not in sys.modules or sys.modules["torch"] is None, "torch was imported"
    assert "torchinfo" not in sys.modules, "torchinfo was imported"
    sys.exit(code)
""")


def test_check_does_not_import_torch() -> None:
    result = run("check", str(expected.PATH), python_code=CHECK_WITHOUT_TORCH.format(block=""))
    assert result.returncode == 0, result.stderr
    assert ": ok (4 layers" in result.stdout


@pytest.mark.parametrize("command", [
    ["check", str(expected.PATH)],
    ["summary", str(expected.PATH), "--no-confirm", "--format", "json"],
    ["layers", "Conv2d"],
])
def test_commands_run_with_torch_unimportable(command: list[str]) -> None:
    blocker = 'sys.modules["torch"] = None  # any "import torch" now raises ImportError'
    result = run(*command, python_code=CHECK_WITHOUT_TORCH.format(block=blocker))
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)


def test_check_with_torch_unimportable_still_reports_errors(bad_spec: Path) -> None:
    blocker = 'sys.modules["torch"] = None'
    result = run("check", str(bad_spec), python_code=CHECK_WITHOUT_TORCH.format(block=blocker))
    assert result.returncode == 1
    assert "did you mean kernel_size?" in result.stderr
    assert_no_traceback(result)


# --- layers ---


def test_layers_lists_every_kind() -> None:
    result = run("layers")
    assert result.returncode == 0, result.stderr
    for kind in netspec.layers.registered_kinds():
        assert f"\n{kind}" in result.stdout
    conv = result.stdout.split("\nConv2d")[1].split("\n\n")[0]
    assert "in_channels" in conv and "inferred" in conv
    assert "kernel_size   int | list[int]" in conv
    assert "required" in conv
    assert "padding_mode  'zeros' | 'reflect' | 'replicate' | 'circular'  default 'zeros'" in conv


def test_layers_one_kind() -> None:
    result = run("layers", "Conv2d")
    assert result.returncode == 0
    assert "\nConv2d" in result.stdout
    assert "\nConv1d" not in result.stdout


def test_layers_unknown_kind_is_a_usage_error_with_a_suggestion() -> None:
    result = run("layers", "conv2d")
    assert result.returncode == 2
    assert "did you mean Conv2d?" in result.stderr
    assert_no_traceback(result)


# --- usage ---


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["summary"], ["check"],
                                  ["summary", "x.yaml", "--format", "xml"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "usage: netspec" in result.stderr
    assert_no_traceback(result)


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"netspec {netspec.__version__}"


# --- a disagreement with torch (in-process, to patch the analysis) ---


def test_confirmation_error_is_reported_as_a_bug_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    original = Conv2d.parameter_count
    monkeypatch.setattr(Conv2d, "parameter_count", lambda self, s: original(self, s) + 1)
    assert cli.main(["summary", str(expected.PATH)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "this is a netspec bug" in captured.err
    assert "parameters: netspec 225, torch 224" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("command", ["check", "summary", "diff", "draw"])
def test_a_spec_argument_is_always_a_file(command: str, tmp_path: Path) -> None:
    """A directory, or a missing file whose name does not end in .yaml, was read as YAML text
    ('a spec is a mapping ...; received a str'); a spec argument is a path."""
    missing = tmp_path / "model.txt"
    for path, message in ((tmp_path, "is a directory, not a spec file"),
                          (missing, "no such spec file")):
        extra = [str(path)] if command == "diff" else []  # diff compares two
        result = run(command, str(path), *extra)
        assert result.returncode == 1, result.stderr
        assert result.stderr == f"{path}: {message}\n"


def test_setting_a_parameter_of_a_spec_without_params_says_so() -> None:
    result = run("check", "specs/lenet5.yaml", "--set", "width=32")
    assert result.returncode == 1
    first = next(number for number, line in enumerate(
        (ROOT / "specs/lenet5.yaml").read_text().splitlines(), start=1)
        if line and not line.startswith("#"))  # the document's first key: where params: goes
    assert result.stderr == (f"specs/lenet5.yaml:{first}:1: params: cannot set unknown "
                             "parameter 'width'; the spec has no `params:`\n")


def test_load_names_a_directory_given_as_text(tmp_path: Path) -> None:
    with pytest.raises(netspec.SpecError, match="is a directory, not a spec file"):
        netspec.load(str(tmp_path))


def test_a_sweeps_lines_name_the_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("params: {width: 4}\ninput: [8]\nlayers:\n  - Linear: {out_features: width}\n")
    for width in (8, 16):
        assert cli.main(["check", str(path), "--set", f"width={width}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Linear 8 -> width: 8*width + width parameters
    assert lines == [f"{path} (width=8): ok (1 layer, 72 params, 64 MACs, out [8])",
                     f"{path} (width=16): ok (1 layer, 144 params, 128 MACs, out [16])"]


def test_check_says_when_build_would_refuse_for_size(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.yaml"  # 100,000 x 30,000 weights: 3e9, above build's 2e9
    path.write_text("input: [100000]\nlayers:\n  - Linear: {out_features: 30000}\n")
    assert cli.main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.endswith("; 1 warning)\n")
    assert err.startswith(f"{path}:3:5: layers[0]: warning: build() would refuse this network: "
                          "building would allocate 3,000,030,000 parameter")
    assert cli.main(["check", str(path), "--strict"]) == 1
