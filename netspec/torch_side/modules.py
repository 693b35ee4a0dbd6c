"""The few torch modules netspec adds: what composite kinds build into, and the operations torch
has as functions only (``permute``, ``chunk``, ``narrow``) or not at all (layer scale, stochastic
depth, gating). Everything else is torch's.

All are ordinary ``nn.Module``s: they pickle, script, export and load state dicts like any other.
Each keeps its constructor arguments as attributes of the same name (``from_module`` reads them).
Dims are dims of one sample, as in specs: the batch dim is added here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from netspec.torch_side.maxvit_modules import Partition as Partition
from netspec.torch_side.maxvit_modules import (
    RelativePositionalMultiHeadAttention as RelativePositionalMultiHeadAttention,
)
from netspec.torch_side.swin_modules import PatchMerging as PatchMerging
from netspec.torch_side.swin_modules import ShiftedWindowAttention as ShiftedWindowAttention
from netspec.torch_side.token_modules import ClassToken as ClassToken
from netspec.torch_side.token_modules import MultiheadAttention as MultiheadAttention
from netspec.torch_side.token_modules import PositionEmbedding as PositionEmbedding
from netspec.torch_side.token_modules import SelectToken as SelectToken
from netspec.torch_side.token_modules import TokenMean as TokenMean
from netspec.torch_side.token_modules import TransformerEncoderLayer as TransformerEncoderLayer


class Residual(nn.Module):
    """``post(body(x) + shortcut(x))``; without a shortcut, ``post(body(x))``.

    Children are registered body, shortcut, post, so parameters come in the order of a
    torchvision block (convolutions, then the projection); ``shortcut_first`` registers the
    shortcut before the body (torchvision's RegNet order).
    """

    def __init__(
        self, body: nn.Module, shortcut: nn.Module | None, post: nn.Module | None = None,
        shortcut_first: bool = False,
    ) -> None:
        super().__init__()
        self.shortcut_first = shortcut_first
        if shortcut_first:
            self.shortcut = shortcut
            self.body = body
        else:
            self.body = body
            self.shortcut = shortcut
        self.post = post

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out if self.post is None else self.post(out)


class Parallel(nn.Module):
    """Branches on the same input, concatenated on the channel axis (dim 1), added or multiplied
    (both with torch's broadcasting)."""

    def __init__(
        self, branches: Sequence[nn.Module], merge: Literal["concat", "add", "mul"] = "concat"
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = [branch(x) for branch in self.branches]
        if self.merge == "concat":
            return torch.cat(outputs, dim=1)
        total = outputs[0]
        for output in outputs[1:]:
            total = total + output if self.merge == "add" else total * output
        return total

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}"


class Gate(nn.Module):
    """``x * gate(x)``: the gate's output (``[C, 1, 1]`` for squeeze-and-excitation) broadcast
    over ``x`` with torch's rules. ``layers`` is the gate (what ``from_module`` reads)."""

    def __init__(self, gate: nn.Module) -> None:
        super().__init__()
        self.gate = gate

    @property
    def layers(self) -> nn.Module:
        return self.gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate: torch.Tensor = self.gate(x)
        return x * gate


class Permute(nn.Module):
    """``x.permute(0, *(d + 1 for d in dims))``: ``dims`` permutes the axes of one sample."""

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        self.dims = list(dims)
        rank = len(self.dims)
        self._batched = [0, *(d % rank + 1 for d in self.dims)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self._batched)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Chunk(nn.Module):
    """``torch.chunk(x, chunks, dim)[index]`` along sample dim ``dim`` (batch not counted)."""

    def __init__(self, chunks: int, index: int = 0, dim: int = 0) -> None:
        super().__init__()
        self.chunks = chunks
        self.index = index
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % (x.dim() - 1) + 1
        return torch.chunk(x, self.chunks, dim)[self.index]

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, index={self.index}, dim={self.dim}"


class Narrow(nn.Module):
    """``torch.narrow(x, dim, start, length)`` along sample dim ``dim`` (batch not counted)."""

    def __init__(self, dim: int, start: int, length: int) -> None:
        super().__init__()
        self.dim = dim
        self.start = start
        self.length = length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.narrow(x, self.dim % (x.dim() - 1) + 1, self.start, self.length)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, length={self.length}"


class LayerScale(nn.Module):
    """``x * scale``: a learnable ``scale`` of ``shape`` (``[C, 1, 1]``) filled with
    ``init_value`` (ConvNeXt's layer scale)."""

    def __init__(
        self, shape: Sequence[int], init_value: float = 1e-6,
        device: torch.device | str | None = None, dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.init_value = init_value
        self.scale = nn.Parameter(
            torch.full(tuple(shape), float(init_value), device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def extra_repr(self) -> str:
        return f"shape={list(self.scale.shape)}, init_value={self.init_value}"


class StochasticDepth(nn.Module):
    """Stochastic depth, exactly ``torchvision.ops.StochasticDepth``: in training, each sample
    (``mode="row"``) or the whole batch (``"batch"``) is zeroed with probability ``p`` and kept
    scaled by ``1 / (1 - p)`` otherwise; the identity in eval or when ``p == 0``."""

    def __init__(self, p: float, mode: Literal["row", "batch"]) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
        if mode not in ("row", "batch"):
            raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"
