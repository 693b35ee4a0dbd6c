"""The corpus of malformed specs: each gives exit status 1 and exactly its golden error lines.

``tests/bad_specs/NAME.yaml`` is a spec with one kind of mistake (a few have several, to show
that they are reported together, in line order); ``NAME.expected`` is what ``netspec check
tests/bad_specs/NAME.yaml`` prints on stderr, run from the repository root. Two specs are
generated into a temporary copy of that layout rather than committed: binary garbage and a
10 MB file. The golden files pin the wording; review each one by eye after regenerating:

    NETSPEC_UPDATE_GOLDEN=1 pytest tests/test_bad_specs.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from netspec.cli import commands as cli
from tests.golden_files import UPDATE

ROOT = Path(__file__).parent.parent
CORPUS = ROOT / "tests" / "bad_specs"
TEN_MB = 10 * 1024 * 1024

GENERATED: dict[str, Callable[[], bytes]] = {
    "binary_garbage": lambda: bytes(range(256)) * 4,
    "ten_megabytes": lambda: b"input: [3, 32, 32]\nlayers: [ReLU]\n" + b"#" * TEN_MB + b"\n",
    # characters YAML text cannot hold, raw in the file (PyYAML's own message had no line)
    "control_character": lambda: b"input: [3, 32, 32]\nname: stem\x07net\nlayers: [ReLU]\n",
    "nul_in_quotes": lambda: b'input: [3, 32, 32]\nname: "a\x00b"\nlayers: [ReLU]\n',
    "non_character": lambda: "input: [3, 32, 32]\nname: a\ufffeb\nlayers: [ReLU]\n".encode(),
    # a line break to PyYAML, none to an editor: every later line number would be off by one
    "line_separator": lambda: (
        "# widths\u2028of the stem\ninput: [3, 32, 32]\nlayers:\n"
        "  - Conv2d: {out_channels: 8, kernel_size: 64}\n").encode(),
    # 1,000 parameters that each use the next (recursion would exhaust Python's stack)
    "parameter_chain": lambda: (
        "params:\n" + "".join(f"  p{i}: p{i + 1} + 1\n" for i in range(999))
        + "  p999: widht\ninput: [3, 32, 32]\n"
        "layers:\n  - Conv2d: {out_channels: p0, kernel_size: 3}\n").encode(),
}
OPTIONS: dict[str, tuple[str, ...]] = {"inputs_search_budget": ("--inputs",)}
"""Options a spec is checked with (its golden file is that command's output)."""
NAMES = sorted({path.stem for path in CORPUS.glob("*.yaml")} | set(GENERATED))
LOCATED = re.compile(r"^tests/bad_specs/\w+\.yaml(:\d+:\d+)?: ")


def spec_root(name: str, tmp_path: Path) -> Path:
    """The directory to run from: the repository, or a temporary copy for generated specs."""
    if name not in GENERATED:
        return ROOT
    (tmp_path / "tests" / "bad_specs").mkdir(parents=True)
    (tmp_path / "tests" / "bad_specs" / f"{name}.yaml").write_bytes(GENERATED[name]())
    return tmp_path


def check(name: str, *options: str) -> list[str]:
    return ["check", f"tests/bad_specs/{name}.yaml", *OPTIONS.get(name, ()), *options]


def test_corpus_covers_the_issue() -> None:
    assert len(NAMES) >= 40
    for name in NAMES:
        assert (CORPUS / f"{name}.expected").exists() or UPDATE, f"{name} has no golden file"


@pytest.mark.parametrize("name", NAMES)
def test_bad_spec_gives_its_golden_error(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(spec_root(name, tmp_path))
    assert cli.main(check(name)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines and all(LOCATED.match(line) for line in lines), err
    golden = CORPUS / f"{name}.expected"
    if UPDATE:
        golden.write_text(err, encoding="utf-8")
    assert err == golden.read_text(encoding="utf-8"), (
        f"{name}: the error differs from {golden.name}; if intended, regenerate with "
        "NETSPEC_UPDATE_GOLDEN=1 pytest tests/test_bad_specs.py and review the diff"
    )

    assert cli.main(check(name, "--format", "json")) == 1
    out, _ = capsys.readouterr()
    problems = json.loads(out)
    if isinstance(problems, dict):  # with --inputs: the sizes found beside the problems
        problems = problems["problems"]
    text = (Path.cwd() / "tests" / "bad_specs" / f"{name}.yaml").read_bytes()
    for problem, line in zip(problems, lines, strict=True):
        assert problem["file"] == f"tests/bad_specs/{name}.yaml"
        assert line.endswith(problem["message"])
        if problem["line"] is not None:  # located inside the document
            assert 1 <= problem["line"] <= text.count(b"\n") + 1


@pytest.mark.parametrize(
    "name", ["python_tag", "alias_bomb", "binary_garbage", "several_mistakes"]
)
def test_bad_spec_through_the_console(name: str, tmp_path: Path) -> None:
    """As a user runs it: a subprocess, one message per problem, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "netspec", *check(name)], capture_output=True, text=True,
        cwd=spec_root(name, tmp_path), timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # netspec from this checkout
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr == (CORPUS / f"{name}.expected").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["unknown_argument", "spatial_collapse"])
def test_summary_json_errors(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``summary --format json`` reports the same problems as JSON objects on stderr."""
    monkeypatch.chdir(ROOT)
    assert cli.main(["summary", f"tests/bad_specs/{name}.yaml", "--format", "json"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    problems = json.loads(err)
    expected = (CORPUS / f"{name}.expected").read_text(encoding="utf-8").splitlines()
    assert [
        f"{p['file']}:{p['line']}:{p['column']}: {p['path']}: {p['message']}" for p in problems
    ] == expected
