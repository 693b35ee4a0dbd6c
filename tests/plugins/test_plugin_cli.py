"""The example plugin on the command line, in subprocesses as users run it: ``--plugin``, the
entry point of an installed package, ``check`` without torch, and errors without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.plugins.setup import EXAMPLE, SPEC, write_dist_info

ROOT = Path(__file__).parents[2]

WITHOUT_TORCH = textwrap.dedent("""\
    import sys
    from netspec.cli import main
    code = main(sys.argv[1:])
    assert "torch" not in sys.modules, "torch was imported"
    assert "netspec_example_plugin.modules" not in sys.modules, "the plugin's module was imported"
    sys.exit(code)
""")


def run(*args: str, paths: tuple[Path, ...] = (EXAMPLE,), code: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (ROOT, *paths)))}
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "netspec"]
    result = subprocess.run([*command, *args], capture_output=True, text=True, cwd=ROOT,
                            env=env, timeout=300, check=False)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "gated.yaml"
    path.write_text(SPEC)
    return path


def test_plugin_option_check_without_torch(spec: Path) -> None:
    result = run("--plugin", "netspec_example_plugin", "check", str(spec), code=WITHOUT_TORCH)
    assert result.returncode == 0, result.stderr
    assert "ok (6 layers, 3,106 params, ? MACs, out [10]" in result.stdout


def test_installed_entry_point_check_without_torch(spec: Path, tmp_path: Path) -> None:
    site = write_dist_info(tmp_path / "site")
    result = run("check", str(spec), paths=(site, EXAMPLE), code=WITHOUT_TORCH)
    assert result.returncode == 0, result.stderr
    assert "3,106 params" in result.stdout


def test_unregistered_kind_is_located_with_the_plugin_hint(spec: Path) -> None:
    result = run("check", str(spec))
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{spec}:5:5: layers[1]: unknown layer kind 'GatedUnit'")
    assert "--plugin MODULE" in first


def test_a_plugin_module_that_does_not_import_is_a_usage_error(spec: Path) -> None:
    result = run("--plugin", "no_such_plugin", "check", str(spec))
    assert result.returncode == 2
    assert "--plugin no_such_plugin: the module could not be imported: ModuleNotFoundError" in (
        result.stderr)


def test_layers_lists_the_plugin_kind(spec: Path) -> None:
    result = run("--plugin", "netspec_example_plugin", "layers", "GatedUnit")
    assert result.returncode == 0, result.stderr
    assert "GatedUnit: A gated linear unit" in result.stdout
    assert "out_channels" in result.stdout and "'sigmoid' | 'tanh'" in result.stdout


def test_summary_draw_export(spec: Path, tmp_path: Path) -> None:
    plugin = ("--plugin", "netspec_example_plugin")
    summary = run(*plugin, "summary", str(spec))
    assert summary.returncode == 0, summary.stderr
    assert "torchinfo" in summary.stdout and "confirmed" in summary.stdout
    drawn = run(*plugin, "draw", str(spec), "-o", str(tmp_path / "net.svg"))
    assert drawn.returncode == 0, drawn.stderr
    assert "GatedUnit" in (tmp_path / "net.svg").read_text()
    exported = run(*plugin, "export", str(spec), "-o", str(tmp_path / "net.pt2"))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "net.pt2").stat().st_size > 0


def test_misbehaving_plugins_get_located_errors_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("input: [3, 8, 8]\nlayers:\n  - Conv2d: {out_channels: 4, kernel_size: 1}\n"
                    "  - Liar\n  - ReLU\n")
    plugin = ("--plugin", "tests.plugins.bad_plugin")
    lied = run(*plugin, "summary", str(path))
    assert lied.returncode == 1
    assert f"{path}:4:5: layers[1]: torch disagrees with plugin kind Liar" in lied.stderr
    assert "netspec bug" not in lied.stderr
    assert run(*plugin, "summary", str(path), "--no-confirm").returncode == 0
    path.write_text(path.read_text().replace("Liar", "Explodes"))
    exploded = run(*plugin, "check", str(path))
    assert exploded.returncode == 1
    assert f"{path}:4:5: layers[1].Explodes: plugin kind Explodes" in exploded.stderr
