"""A spec as a deployable artefact: ``torch.export`` (``.pt2``) or ONNX (``.onnx``).

    netspec export specs/resnet18.yaml -o resnet18.pt2     # torch.export.save
    netspec export specs/resnet18.yaml -o resnet18.onnx    # torch.onnx.export, the onnx extra

The model is built in eval mode, with the weights of ``weights=`` (a ``state_dict`` file) or a
seeded random initialisation, and exported with a dynamic batch dimension. Unless told not to,
the artefact is loaded back (``torch.export.load``; onnxruntime for ONNX, when installed) and
run on a batch of another size: an output that differs from the built model's by more than the
tolerance raises ``NetspecError``, so a written artefact is one that computes the same function.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from netspec.analysis.analysis import load
from netspec.core.errors import NetspecError, Problem
from netspec.reading.loader import SpecSource
from netspec.torch_side.build import build

__all__ = ["FORMATS", "Exported", "export"]

FORMATS = {".pt2": "torch.export", ".onnx": "onnx"}
ONNX_PACKAGES = ("onnx", "onnxscript")  # what torch.onnx.export (dynamo) needs
ONNX_INSTALL = 'pip install "netspec[onnx]" (onnx, onnxscript, onnxruntime)'
# Weights beyond this go to an external data file next to the .onnx (protobuf's 2 GB limit).
ONNX_INLINE_BYTES = 1 << 30
RTOL = 1e-4
ATOL = 1e-5


@dataclass(frozen=True)
class Exported:
    """What ``export`` wrote: the file, the format, and the check of the artefact."""

    path: Path
    format: str
    verified: bool
    max_difference: float | None = None
    note: str = ""


def export(
    source: SpecSource,
    path: str | os.PathLike[str],
    *,
    params: Mapping[str, Any] | None = None,
    input_shape: Sequence[int] | None = None,
    weights: str | os.PathLike[str] | None = None,
    seed: int = 0,
    batch: int = 2,
    dynamic_batch: bool = True,
    verify: bool = True,
) -> Exported:
    """Export the spec's model to ``path``; its suffix picks the format (``FORMATS``).

    ``weights``: a file saved with ``torch.save(model.state_dict(), ...)`` for this spec;
    without it the weights are a random initialisation seeded with ``seed``. The example input
    has ``batch`` samples; with ``dynamic_batch`` the artefact takes any batch size.
    Raises ``NetspecError`` for a wrong path, missing ONNX packages, or an artefact whose output
    disagrees with the model's.
    """
    target = Path(path)
    kind = FORMATS.get(target.suffix.lower())
    if kind is None:
        raise NetspecError(Problem(
            f"cannot tell the export format from the suffix {target.suffix!r}; use "
            f"{' or '.join(FORMATS)}", file=str(target)))
    if kind == "onnx":
        missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            raise NetspecError(Problem(
                f"ONNX export needs {', '.join(missing)}: {ONNX_INSTALL}", file=str(target)))
    spec = load(source, params=params)
    if input_shape is not None:
        spec = spec.with_input(tuple(input_shape))
    model = _model(spec, weights, seed)
    example = _example(spec, batch, seed)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=1 << 16)},) if dynamic_batch else None
    target.parent.mkdir(parents=True, exist_ok=True)
    if kind == "torch.export":
        program = torch.export.export(model, (example,), dynamic_shapes=dynamic)
        torch.export.save(program, target)
    else:
        _export_onnx(model, example, target, dynamic)
    if not verify:
        return Exported(target, kind, verified=False, note="not verified")
    check = _example(spec, batch + 1 if dynamic_batch else batch, seed + 1)
    return _verify(model, target, kind, check)


def _example(spec: Any, batch: int, seed: int) -> torch.Tensor:
    """A seeded example batch: normal floats, or for integer ids (``dtype: long``) ids drawn
    below the first ``Embedding``'s vocabulary (0 and 1 without one)."""
    generator = torch.Generator().manual_seed(seed)
    if spec.input_dtype == "long":
        high = next((layer.num_embeddings for layer in spec.layers
                     if layer.kind == "Embedding"), 2)
        return torch.randint(0, high, (batch, *spec.input), generator=generator)
    return torch.randn(batch, *spec.input, generator=generator)


def _model(spec: Any, weights: str | os.PathLike[str] | None, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = build(spec)
    if weights is not None:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except (OSError, RuntimeError, KeyError, TypeError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise NetspecError(Problem(
                f"cannot load these weights into the spec's model: {first}",
                file=str(weights))) from None
    return model.eval()


def _export_onnx(model: nn.Module, example: torch.Tensor, target: Path,
                 dynamic: tuple[dict[int, Any], ...] | None) -> None:
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)  # "torchvision is not installed": not our concern
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch's own deprecations
            torch.onnx.export(
                model, (example,), target, dynamo=True, dynamic_shapes=dynamic,
                input_names=["input"], output_names=["output"],
                external_data=size > ONNX_INLINE_BYTES, verbose=False,
            )
    finally:
        registration.setLevel(level)


def _verify(model: nn.Module, target: Path, kind: str, x: torch.Tensor) -> Exported:
    with torch.no_grad():
        expected = model(x)
    if kind == "torch.export":
        loaded = torch.export.load(target).module()
        with torch.no_grad():
            actual = loaded(x)
    else:
        if importlib.util.find_spec("onnxruntime") is None:
            return Exported(target, kind, verified=False,
                            note="not verified: onnxruntime is not installed")
        import onnxruntime

        session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        actual = torch.from_numpy(session.run(None, {name: x.numpy()})[0])
    difference = float((actual - expected).abs().max()) if actual.shape == expected.shape else (
        float("inf"))
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    if not difference <= ATOL + RTOL * scale:
        shapes = "" if actual.shape == expected.shape else (
            f" (shape {list(actual.shape)}, expected {list(expected.shape)})")
        raise NetspecError(Problem(
            f"the exported model disagrees with the built model on a batch of {x.shape[0]}: "
            f"max |difference| {difference:.3g}{shapes}, tolerance {ATOL + RTOL * scale:.3g}",
            file=str(target)))
    return Exported(target, kind, verified=True, max_difference=difference)
