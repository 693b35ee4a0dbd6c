"""A spec as a deployable artefact: ``torch.export`` (``.pt2``) or ONNX (``.onnx``).

    netspec export specs/resnet18.yaml -o resnet18.pt2     # torch.export.save
    netspec export specs/resnet18.yaml -o resnet18.onnx    # torch.onnx.export, the onnx extra

The model is built in eval mode, with the weights of ``weights=`` (``netspec.load_weights``) or a
seeded random initialisation, and exported with a dynamic batch dimension. Unless told not to,
the artefact is loaded back (``torch.export.load``; onnxruntime for ONNX, when installed) and
run on a batch of another size: an output that differs from the built model's by more than the
tolerance raises ``NetspecError``, so a written artefact is one that computes the same function.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from netspec.analysis.analysis import load
from netspec.core.errors import LimitError, NetspecError, Problem
from netspec.core.limits import MAX_BATCH, MAX_EXAMPLE_VALUES, MAX_SEED
from netspec.reading.loader import SpecSource
from netspec.reading.spec import check_input_shape
from netspec.torch_side.build import build
from netspec.torch_side.load_weights import WeightsSource

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
    weights: WeightsSource | None = None,
    seed: int = 0,
    batch: int = 2,
    dynamic_batch: bool = True,
    verify: bool = True,
) -> Exported:
    """Export the spec's model to ``path``; its suffix picks the format (``FORMATS``).

    ``weights``: a state dict or checkpoint file (``torch.save``, ``.safetensors``) or a state
    dict, loaded as ``netspec.load_weights`` does (by key, else in order, every shape checked);
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
    if type(seed) is not int or not 0 <= seed <= MAX_SEED:
        raise NetspecError(f"seed must be a whole number from 0 to {MAX_SEED:,}; received "
                           f"{seed if type(seed) is int and seed.bit_length() < 200 else '...'}")
    if type(batch) is not int or not 1 <= batch <= MAX_BATCH:
        raise NetspecError(f"batch must be a whole number from 1 to {MAX_BATCH:,}; received "
                           f"{batch if type(batch) is int and batch.bit_length() < 200 else '...'}")
    spec = load(source, params=params)
    if input_shape is not None:
        spec = spec.with_input(check_input_shape(input_shape, spec))
    values = (batch + 1) * math.prod(spec.input)
    if values > MAX_EXAMPLE_VALUES:
        raise LimitError(spec.source.problem(("input",), (
            f"the example inputs (a batch of {batch} and one of {batch + 1}, each sample "
            f"{list(spec.input)}) would hold {values:,} values; the limit is "
            f"{MAX_EXAMPLE_VALUES:,} (1 GB in float32): use a smaller --batch")))
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


def _model(spec: Any, weights: WeightsSource | None, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build(spec, weights=weights).eval()


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
