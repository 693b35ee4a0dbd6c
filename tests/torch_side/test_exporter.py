"""``netspec export``: torch.export (``.pt2``) and ONNX (``.onnx``) artefacts, loaded back.

Each artefact is loaded as a user would load it (``torch.export.load``, onnxruntime) and run on
a batch size other than the example's; its output must equal the built model's within float
tolerance. ONNX tests need the ``onnx`` extra and are skipped without it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import netspec
from netspec.torch_side import exporter

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "examples" / "tiny_cnn.yaml"  # residual block, group norm, pool, linear
BRANCHY = """
name: branchy
input: [2, 12, 12]
layers:
  - Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
  - BatchNorm2d
  - Parallel:
      branches:
        - [{Conv2d: {out_channels: 3, kernel_size: 1}}, ReLU]
        - [{MaxPool2d: {kernel_size: 3, stride: 1, padding: 1}}]
  - Upsample: {scale_factor: 2, mode: bilinear}
  - AdaptiveAvgPool2d: {output_size: 1}
  - Flatten
  - Linear: {out_features: 5}
"""


def model_of(source: object, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return netspec.build(source).eval()  # type: ignore[arg-type]


@pytest.mark.parametrize("source", [TINY, BRANCHY], ids=["tiny_cnn", "branchy"])
def test_torch_export_artefact_computes_the_model(tmp_path: Path, source: object) -> None:
    path = tmp_path / "model.pt2"
    result = netspec.export(source, path)  # type: ignore[arg-type]
    assert result.verified and result.format == "torch.export" and path.exists()
    spec = netspec.load(source)  # type: ignore[arg-type]
    loaded = torch.export.load(path).module()
    for batch in (1, 5):
        x = torch.randn(batch, *spec.input)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model_of(source)(x), rtol=1e-5, atol=1e-6)


def test_weights_file_and_static_batch(tmp_path: Path) -> None:
    trained = model_of(TINY, seed=5)
    torch.save(trained.state_dict(), tmp_path / "weights.pt")
    path = tmp_path / "static.pt2"
    netspec.export(TINY, path, weights=tmp_path / "weights.pt", batch=3, dynamic_batch=False)
    loaded = torch.export.load(path).module()
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), trained(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(Exception):  # noqa: B017 - the batch size is part of a static program
        loaded(torch.randn(2, 1, 16, 16))


def test_wrong_weights_and_wrong_suffix_are_errors(tmp_path: Path) -> None:
    torch.save({"nothing": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(netspec.NetspecError, match="cannot load these weights"):
        netspec.export(TINY, tmp_path / "m.pt2", weights=tmp_path / "other.pt")
    with pytest.raises(netspec.NetspecError, match=r"use \.pt2 or \.onnx"):
        netspec.export(TINY, tmp_path / "m.tflite")


def test_missing_onnx_packages_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = exporter.importlib.util.find_spec
    monkeypatch.setattr(exporter.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real(name, *a))
    with pytest.raises(netspec.NetspecError, match=r"needs onnxscript: pip install"):
        netspec.export(TINY, tmp_path / "m.onnx")


def test_onnx_artefact_computes_the_model(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "model.onnx"
    result = netspec.export(BRANCHY, path)
    assert result.verified and result.format == "onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    for batch in (1, 4):
        x = torch.randn(batch, 2, 12, 12)
        (out,) = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(out), model_of(BRANCHY)(x),
                                       rtol=1e-4, atol=1e-5)


def test_export_command(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "netspec", "export", str(TINY), "-o"]
    done = subprocess.run([*command, str(tmp_path / "m.pt2")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "torch.export, dynamic batch; verified" in done.stdout
    wrong = subprocess.run([*command, str(tmp_path / "m.txt")], capture_output=True, text=True,
                           check=False)
    assert wrong.returncode == 2
    assert "-o needs a .pt2 or .onnx file" in wrong.stderr
