"""The executable (``python -m netspec``, the console script): ``main``'s output and status,
whatever ``console`` does to make the exit cheap."""

from __future__ import annotations

import gc
import io
import json
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

from netspec.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPECS = [str(ROOT / "specs" / f"{name}.yaml") for name in ("lenet5", "resnet50", "vgg16")]


def test_the_executable_prints_what_main_prints_and_exits_with_its_status(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("input: [3, 8, 8]\nlayers:\n  - Conv2d: {out_channels: 4}\n")
    for specs, status in ((SPECS, 0), ([*SPECS, str(broken)], 1)):
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            assert main(["check", *specs]) == status
        child = subprocess.run([sys.executable, "-m", "netspec", "check", *specs], cwd=ROOT,
                               capture_output=True, text=True, check=False)
        assert child.returncode == status
        assert child.stdout == buffer.getvalue()
        assert "kernel_size" in child.stdout + child.stderr or status == 0


def test_output_to_a_file_is_complete(tmp_path: Path) -> None:
    """``gc.freeze`` before the exit leaves the flushing of output to nobody: it is done first.
    A 100 kB JSON summary, redirected to a file, parses whole."""
    target = tmp_path / "out.json"
    with target.open("w", encoding="utf-8") as out:
        child = subprocess.run(
            [sys.executable, "-m", "netspec", "summary", "--no-confirm", "--format", "json",
             str(ROOT / "specs" / "resnet50.yaml")], cwd=ROOT, stdout=out, check=False)
    assert child.returncode == 0
    text = target.read_text(encoding="utf-8")
    assert len(text) > 100_000
    assert json.loads(text)["totals"]["params"] == 25_557_032  # torchvision's resnet50


def test_main_itself_leaves_the_collector_alone() -> None:
    frozen = gc.get_freeze_count()
    with redirect_stdout(io.StringIO()):
        main(["check", SPECS[0]])
    assert gc.get_freeze_count() == frozen
