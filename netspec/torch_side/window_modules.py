"""netspec's modules for Swin's kinds (``netspec.layers.windows``): torchvision's
``ShiftedWindowAttention`` and ``PatchMerging``, on channels-last ``[B, H, W, C]``; and MaxViT's
(``netspec.layers.maxvit``): ``Partition`` and ``RelativePositionalMultiHeadAttention``; without
importing torchvision. Same tensors, same registration order, same arithmetic (the -100 mask
included), so torchvision's weights load by position and give the same outputs.

Each keeps the spec's arguments in ``netspec_args`` (``from_module`` reads them). The relative
position index is a function of the window: ``reset_parameters`` recomputes it, since a meta
build moved with ``to_empty`` holds garbage.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Partition", "PatchMerging", "RelativePositionalMultiHeadAttention",
           "ShiftedWindowAttention", "grid_index", "relative_position_index"]

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


class ShiftedWindowAttention(nn.Module):
    """torchvision's ``ShiftedWindowAttention`` (``[B, H, W, C] -> [B, H, W, C]``): own tensors
    ``relative_position_bias_table [(2wh-1)(2ww-1), heads]`` and buffer
    ``relative_position_index [(wh ww)^2]`` first in the state dict, then ``qkv``, ``proj``."""

    def __init__(self, dim: int, window_size: list[int], shift_size: list[int], num_heads: int,
                 qkv_bias: bool = True, proj_bias: bool = True, attention_dropout: float = 0.0,
                 dropout: float = 0.0, device: Device = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.window_size, self.shift_size = list(window_size), list(shift_size)
        self.num_heads, self.attention_dropout, self.dropout = num_heads, attention_dropout, dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias, device=device, dtype=dtype)
        self.proj = nn.Linear(dim, dim, bias=proj_bias, device=device, dtype=dtype)
        wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads, device=device, dtype=dtype))
        self.register_buffer("relative_position_index",
                             relative_position_index((wh, ww), device))
        self.netspec_args: dict[str, Any] = {
            "window_size": tuple(window_size), "shift_size": tuple(shift_size),
            "num_heads": num_heads, "qkv_bias": qkv_bias, "proj_bias": proj_bias,
            "attention_dropout": attention_dropout, "dropout": dropout}
        if self.relative_position_bias_table.device.type != "meta":
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """The table as torchvision draws it (truncated normal, std 0.02); the index again."""
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        with torch.no_grad():
            wh, ww = self.window_size
            index.copy_(relative_position_index((wh, ww), index.device))

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.netspec_args.items())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, height, width, dim = x.shape
        (wh, ww), heads = self.window_size, self.num_heads
        x = F.pad(x, (0, 0, 0, (ww - width % ww) % ww, 0, (wh - height % wh) % wh))
        _, hp, wp, _ = x.shape
        shift = [0 if wh >= hp else self.shift_size[0], 0 if ww >= wp else self.shift_size[1]]
        if sum(shift):
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        windows = (hp // wh) * (wp // ww)
        x = x.view(batch, hp // wh, wh, wp // ww, ww, dim).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(batch * windows, wh * ww, dim)
        tokens = wh * ww
        qkv = self.qkv(x).reshape(x.size(0), tokens, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * (dim // heads) ** -0.5).matmul(k.transpose(-2, -1))
        index: torch.Tensor = self.relative_position_index  # type: ignore[assignment]
        bias = self.relative_position_bias_table[index].view(tokens, tokens, -1)
        attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if sum(shift):
            attn = attn.view(batch, windows, heads, tokens, tokens) + self._mask(
                hp, wp, shift, x).unsqueeze(1).unsqueeze(0)
            attn = attn.view(batch * windows, heads, tokens, tokens)
        attn = F.dropout(F.softmax(attn, dim=-1), p=self.attention_dropout, training=self.training)
        x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), tokens, dim)
        x = F.dropout(self.proj(x), p=self.dropout, training=self.training)
        x = x.view(batch, hp // wh, wp // ww, wh, ww, dim).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(batch, hp, wp, dim)
        if sum(shift):
            x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
        return x[:, :height, :width, :].contiguous()

    def _mask(self, hp: int, wp: int, shift: list[int], like: torch.Tensor) -> torch.Tensor:
        """torchvision's: -100 between tokens of a window that the roll brought from different
        regions, 0 elsewhere; ``[windows, M, M]``."""
        wh, ww = self.window_size
        labels = like.new_zeros((hp, wp))
        count = 0
        for h in ((0, -wh), (-wh, -shift[0]), (-shift[0], None)):
            for w in ((0, -ww), (-ww, -shift[1]), (-shift[1], None)):
                labels[h[0]:h[1], w[0]:w[1]] = count
                count += 1
        labels = labels.view(hp // wh, wh, wp // ww, ww).permute(0, 2, 1, 3)
        labels = labels.reshape(-1, wh * ww)
        mask = labels.unsqueeze(1) - labels.unsqueeze(2)
        return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


class PatchMerging(nn.Module):
    """torchvision's ``PatchMerging``: ``[B, H, W, C] -> [B, ceil(H/2), ceil(W/2), 2C]``;
    ``reduction`` (Linear 4C -> 2C, no bias) registered before ``norm`` (LayerNorm 4C)."""

    def __init__(self, dim: int, eps: float = 1e-5, device: Device = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False, device=device, dtype=dtype)
        self.norm = nn.LayerNorm(4 * dim, eps=eps, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-3:-1]
        x = F.pad(x, (0, 0, 0, width % 2, 0, height % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :],
                       x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], dim=-1)
        out: torch.Tensor = self.reduction(self.norm(x))
        return out


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
