"""netspec's modules for Swin (``netspec.layers.windows``): shifted-window attention with a
relative position bias and patch merging, on channels-last ``[B, H, W, C]`` maps, with
torchvision's tensors, names and registration order (``relative_position_bias_table`` and the
buffer ``relative_position_index`` before ``qkv``/``proj`` in the state dict; ``reduction``
before ``norm``) and torchvision's arithmetic (the -100 mask between regions of a shifted
window, so the logits equal torchvision's bit for bit).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PatchMerging", "ShiftedWindowAttention", "relative_position_index"]

Device = torch.device | str | None


def relative_position_index(wh: int, ww: int, device: Device = None) -> torch.Tensor:
    """For each (query, key) pair of a ``wh x ww`` window, row-major, the bias table's row of
    their offset: ``(dy + wh - 1) (2 ww - 1) + dx + ww - 1``. Shape ``[(wh ww)^2]``."""
    ys, xs = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
    ys, xs = ys.reshape(-1), xs.reshape(-1)
    dy = ys[:, None] - ys[None, :] + (wh - 1)
    dx = xs[:, None] - xs[None, :] + (ww - 1)
    return (dy * (2 * ww - 1) + dx).reshape(-1).to(device)


def _region_labels(size: int, window: int, shift: int) -> torch.Tensor:
    """After rolling a padded axis by ``-shift``: 0 for ordinary positions, 1 and 2 for the
    two parts of the last window (before the wrap, wrapped round from the start)."""
    labels = torch.zeros(size, dtype=torch.long)
    if shift:
        labels[size - window: size - shift] = 1
        labels[size - shift:] = 2
    return labels


class ShiftedWindowAttention(nn.Module):
    """Swin's (shifted) window attention on ``[B, H, W, C]``: pad H, W up to multiples of the
    window, roll by ``-shift`` (no shift on an axis one window covers), attention inside each
    window with a learned bias per head and offset, masked (-100) across regions when
    shifted; roll back, crop."""

    def __init__(self, dim: int, window_size: Sequence[int], shift_size: Sequence[int],
                 num_heads: int, qkv_bias: bool = True, proj_bias: bool = True,
                 attention_dropout: float = 0.0, dropout: float = 0.0,
                 device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.window_size, self.shift_size = list(window_size), list(shift_size)
        self.num_heads, self.attention_dropout, self.dropout = num_heads, attention_dropout, dropout
        self.qkv_bias, self.proj_bias = qkv_bias, proj_bias
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias, device=device, dtype=dtype)
        self.proj = nn.Linear(dim, dim, bias=proj_bias, device=device, dtype=dtype)
        wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads, device=device, dtype=dtype))
        self.register_buffer("relative_position_index", relative_position_index(wh, ww, device))
        if torch.device(device or "cpu").type != "meta":
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """The table as torchvision draws it; the index recomputed (``to_empty`` leaves it
        garbage)."""
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        with torch.no_grad():
            index = self.get_buffer("relative_position_index")
            wh, ww = self.window_size
            index.copy_(relative_position_index(wh, ww, index.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, height, width, dim = x.shape
        (wh, ww), heads = self.window_size, self.num_heads
        ph, pw = -height % wh, -width % ww
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
        hp, wp = height + ph, width + pw
        sh = self.shift_size[0] if wh < hp else 0
        sw = self.shift_size[1] if ww < wp else 0
        if sh or sw:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        nh, nw = hp // wh, wp // ww
        windows = x.view(batch, nh, wh, nw, ww, dim).transpose(2, 3).reshape(-1, wh * ww, dim)
        tokens = windows.shape[1]
        q, k, v = (self.qkv(windows).view(-1, tokens, 3, heads, dim // heads)
                   .permute(2, 0, 3, 1, 4).unbind(0))  # each [B*nW, heads, M, d]
        index = self.get_buffer("relative_position_index")
        bias = self.relative_position_bias_table[index].view(tokens, tokens, -1).permute(2, 0, 1)
        scores = torch.matmul(q * (dim // heads) ** -0.5, k.transpose(-1, -2)) + bias
        if sh or sw:
            labels = (_region_labels(hp, wh, sh)[:, None] * 3
                      + _region_labels(wp, ww, sw)[None, :]).to(x.device)
            labels = labels.view(nh, wh, nw, ww).transpose(1, 2).reshape(nh * nw, tokens)
            blocked = (labels[:, :, None] != labels[:, None, :]).to(scores.dtype) * -100.0
            scores = (scores.view(batch, nh * nw, heads, tokens, tokens)
                      + blocked[None, :, None]).view(-1, heads, tokens, tokens)
        weights = F.dropout(scores.softmax(-1), self.attention_dropout, self.training)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(-1, tokens, dim)
        out = F.dropout(self.proj(out), self.dropout, self.training)
        x = out.view(batch, nh, nw, wh, ww, dim).transpose(2, 3).reshape(batch, hp, wp, dim)
        if sh or sw:
            x = torch.roll(x, shifts=(sh, sw), dims=(1, 2))
        return x[:, :height, :width].contiguous()

    def extra_repr(self) -> str:
        return (f"window_size={self.window_size}, shift_size={self.shift_size}, "
                f"num_heads={self.num_heads}")


class PatchMerging(nn.Module):
    """``[B, H, W, C] -> [B, ceil(H/2), ceil(W/2), 2C]``: pad H, W to even, concatenate each
    2 x 2 cell's pixels in the order (0,0), (1,0), (0,1), (1,1) (row, column), LayerNorm over
    4C, Linear 4C -> 2C without bias (``reduction``, registered before ``norm``)."""

    def __init__(self, dim: int, eps: float = 1e-5, device: Device = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.eps = eps
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False, device=device, dtype=dtype)
        self.norm = nn.LayerNorm(4 * dim, eps=eps, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-3], x.shape[-2]
        x = F.pad(x, (0, 0, 0, width % 2, 0, height % 2))
        cells = [x[..., r::2, c::2, :] for c in (0, 1) for r in (0, 1)]
        out: torch.Tensor = self.reduction(self.norm(torch.cat(cells, dim=-1)))
        return out
