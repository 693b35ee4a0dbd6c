"""netspec's modules for MaxViT's kinds (``netspec.layers.maxvit``): ``Partition`` and
``RelativePositionalMultiHeadAttention``, without importing torchvision. Same tensors, same
registration order, same arithmetic, so torchvision's weights load by position and give the same
outputs. The relative position index is a function of the group size: ``reset_parameters``
recomputes it, since a meta build moved with ``to_empty`` holds garbage.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Partition", "RelativePositionalMultiHeadAttention", "grid_index",
           "relative_position_index"]

Device = torch.device | str | None


def relative_position_index(window: tuple[int, int], device: Device = None) -> torch.Tensor:
    """torchvision's index, flat ``[(wh ww)^2]``: for every (query, key) pair of a window, the
    row of the bias table holding their offset ``(dy + wh - 1)(2 ww - 1) + dx + ww - 1``."""
    wh, ww = window
    coords = torch.stack(torch.meshgrid(torch.arange(wh, device=device),
                                        torch.arange(ww, device=device), indexing="ij"))
    flat = torch.flatten(coords, 1)
    relative = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    relative[:, :, 0] += wh - 1
    relative[:, :, 1] += ww - 1
    relative[:, :, 0] *= 2 * ww - 1
    return relative.sum(-1).flatten()


# --- MaxViT (netspec.layers.maxvit) ---


def grid_index(size: int, device: Device = None) -> torch.Tensor:
    """torchvision's MaxViT index, ``[S, S]`` for a ``size x size`` group (Swin's, unflattened)."""
    s = size * size
    return relative_position_index((size, size), device).view(s, s)


class RelativePositionalMultiHeadAttention(nn.Module):
    """torchvision's MaxViT attention on ``[B, G, S, D]``: own ``relative_position_bias_table
    [(2P-1)^2, heads]`` and buffer ``relative_position_index [S, S]`` first in the state dict,
    then ``to_qkv`` (D -> 3D), ``merge`` (D -> D); keys scaled by ``D^-0.5``."""

    def __init__(self, feat_dim: int, head_dim: int, max_seq_len: int, device: Device = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.head_dim, self.max_seq_len = head_dim, max_seq_len
        self.n_heads, self.size = feat_dim // head_dim, math.isqrt(max_seq_len)
        self.to_qkv = nn.Linear(feat_dim, 3 * feat_dim, device=device, dtype=dtype)
        self.scale_factor = feat_dim**-0.5
        self.merge = nn.Linear(feat_dim, feat_dim, device=device, dtype=dtype)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(
            (2 * self.size - 1) ** 2, self.n_heads, device=device, dtype=dtype))
        self.register_buffer("relative_position_index", grid_index(self.size, device))
        if self.relative_position_bias_table.device.type != "meta":
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """The table as torchvision draws it (truncated normal, std 0.02); the index again."""
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        with torch.no_grad():
            index.copy_(grid_index(self.size, index.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, g, p, d = x.shape
        heads, hd = self.n_heads, self.head_dim
        q, k, v = torch.chunk(self.to_qkv(x), 3, dim=-1)
        q, k, v = (t.reshape(b, g, p, heads, hd).permute(0, 1, 3, 2, 4) for t in (q, k, v))
        k = k * self.scale_factor
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        bias = self.relative_position_bias_table[index.view(-1)].view(p, p, -1)
        # torchvision writes einsum; matmul is the same product, and stays a bmm (which
        # FlopCounterMode counts) where einsum turns a product with a dim of 1 into a mul
        scores = torch.matmul(q, k.transpose(-1, -2)) + bias.permute(2, 0, 1).unsqueeze(0)
        out = torch.matmul(F.softmax(scores, dim=-1), v)
        merged: torch.Tensor = self.merge(out.permute(0, 1, 3, 2, 4).reshape(b, g, p, d))
        return merged


class Partition(nn.Module):
    """``layers`` on the ``[B, G, P*P, C]`` groups of a ``[B, C, H, W]`` map, then the map
    back: ``window`` groups are the P x P tiles, ``grid`` groups the P x P points H/P apart
    (torchvision's WindowPartition of size H/P and SwapAxes(-2, -3))."""

    def __init__(self, layers: nn.Module, partition_type: str, partition_size: int) -> None:
        super().__init__()
        self.layers, self.partition_type, self.partition_size = (
            layers, partition_type, partition_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.partition_size
        if self.partition_type == "grid":  # groups: offsets inside a cell; tokens: the grid
            x = x.reshape(b, c, p, h // p, p, w // p).permute(0, 3, 5, 2, 4, 1)
        else:  # groups: the tiles; tokens: inside a tile
            x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        y: torch.Tensor = self.layers(x.reshape(b, (h // p) * (w // p), p * p, c))
        if self.partition_type == "grid":
            y = y.reshape(b, h // p, w // p, p, p, c).permute(0, 5, 3, 1, 4, 2)
        else:
            y = y.reshape(b, h // p, w // p, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return y.reshape(b, c, h, w)
