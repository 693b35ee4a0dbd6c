"""Spec -> a plain ``torch.nn.Sequential`` of standard torch modules."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from .layers import Layer
from .loader import SpecSource, load
from .report import expanded
from .shapes import Shape


def build(
    source: SpecSource,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Sequential:
    """The spec's network as ``nn.Sequential``; children are named by ``name:`` or by index.

    ``device`` and ``dtype`` go to each module's constructor, so ``device="meta"`` builds the
    structure without allocating any weight.
    """
    spec = load(source)
    return nn.Sequential(build_layers(spec.layers, tuple(spec.input), device=device, dtype=dtype))


def build_layers(
    layers: Sequence[Layer],
    in_shape: Shape,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> OrderedDict[str, nn.Module]:
    """Named torch modules for ``layers`` applied in order to ``in_shape`` (a validated list)."""
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    shape = in_shape
    for position, (_, layer) in enumerate(expanded(layers)):
        modules[layer.name or str(position)] = layer.to_torch(shape, device=device, dtype=dtype)
        shape = layer.output_shape(shape)
    return modules
