"""netspec's modules for MaxViT (``netspec.layers.partition``): a window or grid partition of a
``[B, C, H, W]`` map into groups of tokens ``[B, G, P^2, C]`` around a layer list, and
attention inside each group with a relative position bias, as torchvision's MaxViT (the
table and the ``[S, S]`` index before ``to_qkv``/``merge`` in the state dict; keys scaled by
``feat_dim ** -0.5``)."""

from __future__ import annotations

import math

import torch
from torch import nn

from netspec.torch_side.swin_modules import relative_position_index

__all__ = ["Partition", "RelativePositionalMultiHeadAttention", "departition", "partition"]

Device = torch.device | str | None


def partition(x: torch.Tensor, size: int, grid: bool) -> torch.Tensor:
    """``[B, C, H, W] -> [B, G, size^2, C]``: window: groups are the ``size x size`` tiles,
    tokens row-major inside; grid: groups are the offsets inside an ``H/size x W/size`` cell,
    tokens the ``size x size`` points ``H/size`` apart."""
    b, c, h, w = x.shape
    if grid:
        x = x.view(b, c, size, h // size, size, w // size).permute(0, 3, 5, 2, 4, 1)
    else:
        x = x.view(b, c, h // size, size, w // size, size).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // size) * (w // size), size * size, c)  # no -1: b may be 0


def departition(x: torch.Tensor, size: int, grid: bool, h: int, w: int) -> torch.Tensor:
    """The inverse of ``partition``."""
    b, _, _, c = x.shape
    if grid:
        x = x.view(b, h // size, w // size, size, size, c).permute(0, 5, 3, 1, 4, 2)
    else:
        x = x.view(b, h // size, w // size, size, size, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, h, w)


class Partition(nn.Module):
    """``layers`` applied to the groups ``[B, G, S, C]`` of a ``[B, C, H, W]`` map, put back."""

    def __init__(self, layers: nn.Module, partition_type: str, partition_size: int) -> None:
        super().__init__()
        if partition_type not in ("window", "grid"):
            raise ValueError(f"partition_type must be window or grid; got {partition_type!r}")
        self.partition_type, self.partition_size = partition_type, partition_size
        self.layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = self.partition_type == "grid"
        h, w = x.shape[-2:]
        y: torch.Tensor = self.layers(partition(x, self.partition_size, grid))
        return departition(y, self.partition_size, grid, h, w)

    def extra_repr(self) -> str:
        return f"partition_type={self.partition_type!r}, partition_size={self.partition_size}"


class RelativePositionalMultiHeadAttention(nn.Module):
    """Attention inside each group: ``[B, G, S, D] -> [B, G, S, D]``, ``S = P^2``; ``to_qkv``
    (Linear D -> 3D), ``merge`` (Linear D -> D), a bias per head and relative offset."""

    def __init__(self, feat_dim: int, head_dim: int, max_seq_len: int,
                 device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        side = math.isqrt(max_seq_len)
        if side * side != max_seq_len or feat_dim % head_dim:
            raise ValueError("max_seq_len must be a square and feat_dim a multiple of head_dim")
        self.feat_dim, self.head_dim, self.max_seq_len = feat_dim, head_dim, max_seq_len
        self.n_heads, self.side = feat_dim // head_dim, side
        self.to_qkv = nn.Linear(feat_dim, 3 * feat_dim, device=device, dtype=dtype)
        self.merge = nn.Linear(feat_dim, feat_dim, device=device, dtype=dtype)
        self.relative_position_bias_table = nn.Parameter(torch.empty(
            (2 * side - 1) ** 2, self.n_heads, device=device, dtype=dtype))
        self.register_buffer("relative_position_index", relative_position_index(
            side, side, device).view(max_seq_len, max_seq_len))
        if torch.device(device or "cpu").type != "meta":
            self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        with torch.no_grad():
            index = self.get_buffer("relative_position_index")
            index.copy_(relative_position_index(self.side, self.side, index.device).view_as(index))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, g, s, d = x.shape
        q, k, v = (self.to_qkv(x).view(b, g, s, 3, self.n_heads, self.head_dim)
                   .permute(3, 0, 1, 4, 2, 5).unbind(0))  # each [B, G, heads, S, hd]
        index = self.get_buffer("relative_position_index")
        bias = self.relative_position_bias_table[index.reshape(-1)].view(s, s, -1)
        scores = torch.matmul(q, (k * self.feat_dim ** -0.5).transpose(-1, -2))
        weights = (scores + bias.permute(2, 0, 1)).softmax(-1)
        out = torch.matmul(weights, v)  # [B, G, heads, S, hd]
        merged: torch.Tensor = self.merge(out.permute(0, 1, 3, 2, 4).reshape(b, g, s, d))
        return merged
