"""Hostile input under a ceiling: every bound holds in memory and time, and every refusal is a
netspec message (never a traceback).

Each case runs ``netspec`` (or a few lines of Python) in a subprocess whose address space is
limited to ``CEILING`` with ``RLIMIT_AS`` (``check`` never imports torch, and none of these
commands gets as far as importing it). ``HANG`` is generous: it only catches a hang, and no test
asserts a wall time (the machines are shared). The whole ``tests/bad_specs`` corpus runs under
the same ceiling too, in one process.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_bad_specs import CORPUS, GENERATED, OPTIONS

ROOT = Path(__file__).parent.parent
CEILING = 300 * 2**20
"""Bytes of address space: the issue's bound for ``check``, which never imports torch."""
HANG = 600
"""Seconds before a case counts as hung (each takes a few seconds; 100,000 layers longer)."""
STRIDE = 2**48  # the largest stride a spec may write


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CEILING, CEILING))


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``command`` (``python -m netspec`` when it starts with a netspec command) under the
    ceiling; its output must hold no traceback."""
    argv = [sys.executable, *command] if command[0] == "-c" else [
        sys.executable, "-m", "netspec", *command]
    result = subprocess.run(
        argv, capture_output=True, text=True, cwd=cwd, timeout=HANG, check=False,
        preexec_fn=_limited, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "MemoryError" not in result.stderr, result.stderr[-3000:]
    return result


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- the corpus, all of it, in one process under the ceiling ---


def test_every_bad_spec_is_refused_under_the_ceiling(tmp_path: Path) -> None:
    folder = tmp_path / "tests" / "bad_specs"
    folder.mkdir(parents=True)
    for name, make in GENERATED.items():
        (folder / f"{name}.yaml").write_bytes(make())
    paths = [str(path) for path in sorted(CORPUS.glob("*.yaml")) if path.stem not in OPTIONS]
    paths += [str(path) for path in sorted(folder.glob("*.yaml"))]
    result = run("check", *paths)
    assert result.returncode == 1
    for path in paths:  # each one refused, by name, at a line when it has one
        assert f"{path}" in result.stderr, path
    assert ": ok (" not in result.stdout


# --- files that are no spec files ---


@pytest.mark.parametrize(("path", "kind"), [
    ("/dev/zero", "a character device"), ("/dev/urandom", "a character device"),
    ("/dev/null", "a character device")])
def test_a_device_is_refused_unread(path: str, kind: str) -> None:
    result = run("check", path)
    assert (result.returncode, result.stderr) == (1, f"{path}: is {kind}, not a spec file\n")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    result = run("check", str(fifo))
    assert (result.returncode, result.stderr) == (
        1, f"{fifo}: is a FIFO (named pipe), not a spec file\n")


def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "two\nlines.yaml", "input: [3, 8, 8]\nlayers: [Bogus]\n")
    result = run("check", path)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{tmp_path}/two\\nlines.yaml:2:10: layers[0]: unknown layer kind")


# --- receptive fields past 2^48 ---


def test_strides_of_2_48_repeated_are_shown_as_beyond(tmp_path: Path) -> None:
    # each pooling multiplies the jump by 2^48: after 300 of them it would have 14,400 digits
    path = write(tmp_path / "strides.yaml", (
        "input: [1, 8]\nlayers:\n  - Repeat: {times: 300, layers: "
        f"[{{MaxPool1d: {{kernel_size: 3, padding: 1, stride: {STRIDE}, ceil_mode: true}}}}]}}\n"))
    table = run("summary", path, "--no-confirm", "--explain")
    assert table.returncode == 0
    assert ">2^48" in table.stdout
    data = json.loads(run("summary", path, "--no-confirm", "--format", "json").stdout)
    last = data["layers"][-1]["receptive_field"][0]
    # 2^48 is the bound: the jump (2^48)^300 and the size are stored as 2^48 + 1, "beyond"
    assert last["jump"] == STRIDE + 1
    assert last["size"] == STRIDE + 1


def test_100000_layers_of_the_worst_strides_stay_within_the_ceiling(tmp_path: Path) -> None:
    """The documented limit (100,000 modules), every one striding by 2^48 (ten top-level
    repeats of 10 x 999 poolings: 99,900 layers, 100,000 modules with the repeats)."""
    repeat = ("  - Repeat: {times: 10, layers: [{Repeat: {times: 999, layers: [{MaxPool1d: "
              f"{{kernel_size: 3, padding: 1, stride: {STRIDE}, ceil_mode: true}}}}]}}}}]}}\n")
    path = write(tmp_path / "deep.yaml", "input: [1, 8]\nlayers:\n" + repeat * 10)
    result = run("check", path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok (99900 layers, 0 params, 0 MACs, out [1, 1]" in result.stdout  # top-level rows


def test_nested_projected_residuals_take_no_exponential_walk(tmp_path: Path) -> None:
    """Residuals nested 10 deep, 300 projected residuals beside each (each with its own body
    and input, so a small cache of strides would thrash)."""
    def level(depth: int) -> str:
        items = [f"{{Residual: {{body: [{level(depth + 1)}]}}}}"] if depth < 10 else []
        items += [f"{{Residual: {{body: [{{Conv1d: {{out_channels: {2 + i}, kernel_size: 1}}}}]}}}}"
                  for i in range(300)]
        return ", ".join(items)
    path = write(tmp_path / "nested.yaml", f"input: [2, 8]\nlayers: [{level(1)}]\n")
    result = run("check", path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok (301 layers" in result.stdout


# --- specs given in Python ---


def test_python_sources_with_shared_lists_cycles_and_odd_objects(tmp_path: Path) -> None:
    code = """
import netspec
class Loud:
    def __repr__(self): raise RuntimeError("repr")
laughs = ["ReLU"]
for _ in range(40):
    laughs = [laughs, laughs]  # 2^40 paths through 40 levels
cycle = {"input": [3, 8, 8], "layers": []}
cycle["layers"].append({"Sequential": {"layers": cycle["layers"]}})
for source in [{"input": [3, 8, 8], "layers": laughs}, cycle,
               {"input": [3, 8, 8], "layers": [Loud()]}, {"input": Loud(), "layers": []},
               b"input: [3, 8, 8]\\nlayers: [Bogus]\\n", 42,
               {"input": [3, 8, 8], "layers": [{"Linear": {"out_features": 10**5000}}]}]:
    try:
        netspec.load(source)
    except netspec.NetspecError as error:
        print(str(error).splitlines()[0])
"""
    result = run("-c", code)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 7, result.stdout
    assert "more than 100,000 values (a shared list or dict counted each time" in lines[0]
    assert "this list contains itself" in lines[1]
    assert "a value of type Loud: a spec holds plain data" in lines[2]
    assert lines[3] == ("<spec>: input: a value of type Loud: a spec holds plain data (dicts, "
                        "lists, strings, numbers, booleans, None)")
    assert "unknown layer kind 'Bogus'" in lines[4]
    assert "received int" in lines[5]
    assert "an integer of 16,610 bits" in lines[6]


# --- searches and arguments ---


def test_inputs_search_stops_at_its_budget(tmp_path: Path) -> None:
    path = write(tmp_path / "long.yaml", (
        "input: [1, 100000000]\nlayers:\n  - Conv1d: {out_channels: 1, kernel_size: 99999999}\n"))
    result = run("check", path, "--inputs")
    assert result.returncode == 1
    assert "the search for input sizes on axis L (here 100000000) stopped" in result.stderr


@pytest.mark.parametrize(("arguments", "message"), [
    (("export", "{spec}", "-o", "{tmp}/m.pt2", "--seed", str(10**23)),
     "argument --seed: a seed is a whole number from 0 to 9,223,372,036,854,775,806"),
    (("export", "{spec}", "-o", "{tmp}/m.pt2", "--batch", "100000000"),
     "argument --batch: a batch size is a whole number from 1 to 65,535"),
    (("summary", "{spec}", "--input", "3x100000000x100000000x100000000"),
     "holds 3,000,000,000,000,000,000,000,000 values; the limit is 2^48"),
    (("summary", "{spec}", "--input", "3x" + "9" * 5000), "the limit is 1,000"),
    (("diff", "{spec}", "--input-b", "1x2x3x4x5x6"), "one sample has at most 5 sizes"),
    (("check", "{spec}", "--set", "width=a\x07b"), "argument --set: the character U+0007"),
    (("check", "{spec}", "--set", "width=" + "1" * 2000), "characters; the limit is 1,000"),
])
def test_arguments_are_bounded_before_any_allocation(
    tmp_path: Path, arguments: tuple[str, ...], message: str,
) -> None:
    spec = write(tmp_path / "spec.yaml", "params: {width: 8}\ninput: [3, 8, 8]\nlayers: [ReLU]\n")
    result = run(*(a.format(spec=spec, tmp=tmp_path) for a in arguments))
    assert result.returncode == 2
    assert message in result.stderr


def test_summary_fails_an_unmet_expectation_as_check_does(tmp_path: Path) -> None:
    path = write(tmp_path / "spec.yaml", (
        "input: [3, 8, 8]\nexpect: {output_shape: [3, 9, 9]}\nlayers: [ReLU]\n"))
    result = run("summary", path, "--no-confirm")
    assert result.returncode == 1
    assert "ReLU" in result.stdout  # the summary is shown, then the error
    assert result.stderr == (
        f"{path}:2:10: expect.output_shape: the output shape is [3, 8, 8]; expected [3, 9, 9]\n")


def test_markdown_escapes_html_from_the_spec(tmp_path: Path) -> None:
    path = write(tmp_path / "spec.yaml", (
        "name: '<img src=x onerror=alert(1)> & co'\ninput: [3, 8, 8]\nlayers: [ReLU]\n"))
    result = run("summary", path, "--no-confirm", "--format", "markdown")
    assert result.returncode == 0
    assert "<img" not in result.stdout  # layer names are identifiers; the spec's name is text
    assert "### netspec summary: &lt;img src=x onerror=alert(1)&gt; &amp; co\n" in result.stdout


def test_draw_of_a_network_without_layers(tmp_path: Path) -> None:
    path = write(tmp_path / "spec.yaml", (
        "input: [3, 8, 8]\nlayers:\n  - Repeat: {times: 0, layers: [ReLU]}\n"))
    result = run("draw", path)
    assert result.returncode == 0
    assert result.stdout.startswith("<svg") and "no layers" in result.stdout
