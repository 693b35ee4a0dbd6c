"""``--weights FILE`` on ``netspec summary`` and ``netspec export``.

The checkpoint comes from a plain-PyTorch LeNet written here with its own module names, so it
loads by order; a wrong checkpoint is exit status 1 with each misfit at its spec line, and a
file that would run code is refused without a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netspec.cli import commands as cli

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "specs" / "lenet5.yaml"


class LeNet(nn.Module):
    """LeNet-5 as specs/lenet5.yaml describes it (sigmoids, average pools), named as usual."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(torch.sigmoid(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.sigmoid(self.conv2(x)), 2).flatten(1)
        return self.fc3(torch.sigmoid(self.fc2(torch.sigmoid(self.fc1(x)))))


@pytest.fixture
def reference() -> LeNet:
    torch.manual_seed(11)
    return LeNet().eval()


def line_of(fragment: str) -> int:
    lines = [i for i, line in enumerate(LENET.read_text().splitlines(), 1) if fragment in line]
    assert len(lines) == 1
    return lines[0]


def test_summary_with_weights(tmp_path: Path, reference: LeNet,
                              capsys: pytest.CaptureFixture[str]) -> None:
    torch.save({"epoch": 3, "state_dict": reference.state_dict()}, tmp_path / "lenet.pt")
    assert cli.main(["summary", str(LENET), "--no-confirm", "--weights",
                     str(tmp_path / "lenet.pt")]) == 0
    out = capsys.readouterr().out
    assert f"Weights: {tmp_path / 'lenet.pt'} loads: 10 tensors matched by order." in out
    assert cli.main(["summary", str(LENET), "--no-confirm", "--format", "json", "--weights",
                     str(tmp_path / "lenet.pt")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weights"] == {"source": str(tmp_path / "lenet.pt"), "tensors": 10,
                               "matched_by": "order"}


def test_summary_with_weights_that_do_not_fit(tmp_path: Path, reference: LeNet,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    state = reference.state_dict()
    state["conv2.weight"] = torch.zeros(16, 6, 3, 3)
    torch.save(state, tmp_path / "wrong.pt")
    assert cli.main(["summary", str(LENET), "--no-confirm", "--weights",
                     str(tmp_path / "wrong.pt")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{tmp_path / 'wrong.pt'}: cannot load these weights")
    assert err[1].startswith(f"{LENET}:{line_of('name: c3')}:")
    assert "'c3.weight' (entry 2 in order) against 'conv2.weight': the weights have " \
           "[16, 6, 3, 3], the model [16, 6, 5, 5]" in err[1]


def test_export_with_weights_loaded_by_order(tmp_path: Path, reference: LeNet,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    torch.save(reference.state_dict(), tmp_path / "lenet.pt")
    out_file = tmp_path / "lenet.pt2"
    assert cli.main(["export", str(LENET), "-o", str(out_file), "--weights",
                     str(tmp_path / "lenet.pt")]) == 0
    assert "verified" in capsys.readouterr().out
    exported = torch.export.load(out_file).module()
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), reference(x), rtol=1e-5, atol=1e-6)


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_export_refuses_a_file_that_would_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.save({"c1.weight": Evil(marker)}, tmp_path / "evil.pt")
    done = subprocess.run(
        [sys.executable, "-m", "netspec", "export", str(LENET), "-o", str(tmp_path / "m.pt2"),
         "--weights", str(tmp_path / "evil.pt")],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert done.returncode == 1
    assert "refused: the file holds Python code/objects" in done.stderr
    assert "Traceback" not in done.stderr
    assert not marker.exists() and not (tmp_path / "m.pt2").exists()
