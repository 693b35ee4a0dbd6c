"""The house: one folder per stage, dependencies one way, torch in one room, small files.

The import contracts live in pyproject.toml (``[tool.importlinter]``) and ``lint-imports`` runs
them in CI; these tests show that they hold, that a wrong import is caught, and measure what the
contracts cannot: import circles between files and file sizes.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "netspec"
MAX_LINES = 400
STAGES = ("core", "layers", "reading", "analysis", "advice", "torch_side", "views", "cli")

lint_imports = shutil.which("lint-imports")
needs_import_linter = pytest.mark.skipif(lint_imports is None, reason="import-linter not installed")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every netspec module ``path`` imports, at any depth of the file (functions included):
    ``from a.b import c`` is the module ``a.b.c`` when there is one, else ``a.b``."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                child = f"{module}.{alias.name}"
                found.add(child if child in modules else module)
    return {module for module in found if module.split(".")[0] == "netspec"}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path, set(files)) if m in files and m != name}
            for name, path in files.items()}


def test_no_import_circle_between_files() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycle = [*trail[trail.index(node):], node]
            pytest.fail("import circle: " + " -> ".join(cycle))
        if node in done:
            return
        for target in sorted(graph[node]):
            visit(target, [*trail, node])
        done.add(node)

    for name in sorted(graph):
        visit(name, [])


def test_every_file_is_at_most_400_lines() -> None:
    long = {str(path.relative_to(ROOT)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_package_is_the_pipeline() -> None:
    folders = {path.name for path in PACKAGE.iterdir()
               if path.is_dir() and (path / "__init__.py").exists()}
    assert folders == set(STAGES)


def test_torch_is_imported_only_by_the_torch_side() -> None:
    users = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] in ("torch", "torchinfo") for name in names):
                users.add(path.relative_to(PACKAGE).parts[0])
    assert users == {"torch_side"}


def test_check_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from netspec.cli import main\n"
        "status = main(['check', 'specs/lenet5.yaml', 'specs/resnet50.yaml'])\n"
        "assert 'torch' not in sys.modules, 'check imported torch'\n"
        "assert 'netspec.layers.upsample' not in sys.modules, 'a kind no spec names was loaded'\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_import_builds_no_schema_and_check_looks_for_no_pydantic_plugin() -> None:
    """Schemas are built when first used (a spec's kinds, ``Spec`` itself at the first load),
    and the command line does not scan every installed distribution for pydantic plugins,
    unless the user's environment says otherwise."""
    code = (
        "import os, sys\n"
        "import netspec.cli\n"
        "from netspec.reading.spec import Spec\n"
        "print(Spec.__pydantic_complete__)\n"
        "netspec.cli.main(['check', 'specs/lenet5.yaml'])\n"
        "loader = sys.modules.get('pydantic.plugin._loader')\n"
        "print(loader is not None and loader._plugins is not None)\n"
    )
    for preset, scanned in ((None, "False"), ("some_plugin", "True")):
        env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
        if preset:
            env["PYDANTIC_DISABLE_PLUGINS"] = preset
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                                text=True, check=True, env=env)
        lines = result.stdout.splitlines()
        assert (lines[0], lines[-1]) == ("False", scanned)


@needs_import_linter
def test_the_import_contracts_hold() -> None:
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout or "broken" not in result.stdout.split("Contracts:")[-1]


@needs_import_linter
@pytest.mark.parametrize(("file", "line", "contract"), [
    ("layers/base.py", "from netspec.torch_side import build  # noqa", "Stages depend one way"),
    ("analysis/inputs.py", "import torch  # noqa", "Only the torch side imports torch"),
    ("core/shapes.py", "    from netspec.views import render  # noqa", "Stages depend one way"),
])
def test_a_wrong_import_is_caught(tmp_path: Path, file: str, line: str, contract: str) -> None:
    """A copy of the package with one added violation fails its contract (inside a function
    too: the last case is indented into a function body)."""
    shutil.copytree(PACKAGE, tmp_path / "netspec")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "netspec" / file
    text = target.read_text(encoding="utf-8")
    if line.startswith(" "):
        line = "def _wrong() -> None:\n" + line
    target.write_text(text + "\n\n" + line + "\n", encoding="utf-8")
    result = subprocess.run([str(lint_imports)], cwd=tmp_path, capture_output=True, text=True,
                            check=False, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken
