"""``.pre-commit-hooks.yaml``: the hooks pre-commit reads, and the command they run."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
REQUIRED = {"id", "name", "entry", "language"}  # pre-commit's manifest schema
LANGUAGES = {"python", "system"}


def test_hooks_are_well_formed() -> None:
    assert [hook["id"] for hook in HOOKS] == ["netspec-check", "netspec-check-system"]
    for hook in HOOKS:
        assert set(hook) >= REQUIRED, hook["id"]
        assert hook["language"] in LANGUAGES
        assert hook["entry"] == "netspec check"
        assert hook["types"] == ["yaml"]


def test_hook_files_pattern_takes_specs_and_leaves_other_yaml() -> None:
    pattern = re.compile(HOOKS[0]["files"])
    for path in ("specs/lenet5.yaml", "models/specs/resnet.yml", "spec/net.yaml"):
        assert pattern.search(path), path
    for path in (".github/workflows/ci.yml", "docker-compose.yaml", "specs/notes.txt"):
        assert not pattern.search(path), path


def test_hook_entry_checks_specs_as_pre_commit_calls_it(tmp_path: Path) -> None:
    """pre-commit appends the staged file names to the entry."""
    entry = shlex.split(HOOKS[0]["entry"])
    assert entry[0] == "netspec"
    good = [str(p) for p in sorted((ROOT / "specs").glob("*.yaml"))[:3]]
    command = [sys.executable, "-m", "netspec", *entry[1:]]
    ok = subprocess.run([*command, *good], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "specs" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("input: [3, 8, 8]\nlayers:\n  - Conv2d: {out_channels: 4, kernal_size: 3}\n",
                   encoding="utf-8")
    failed = subprocess.run([*command, *good, str(bad)], capture_output=True, text=True,
                            check=False)
    assert failed.returncode == 1
    assert f"{bad}:3:" in failed.stderr and "kernal_size" in failed.stderr
