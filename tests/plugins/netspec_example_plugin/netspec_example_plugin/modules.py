"""The ``nn.Module`` of ``GatedUnit``: imported by netspec's torch side only to build it."""

from __future__ import annotations

import torch
from torch import nn


class GatedUnitModule(nn.Module):
    """``(W x + b) * gate(V x + c)`` over dim 1 of a batch ``[N, C, *spatial]``."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True,
                 gate: str = "sigmoid", device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.value = nn.Linear(in_channels, out_channels, bias=bias, device=device, dtype=dtype)
        self.gate = nn.Linear(in_channels, out_channels, bias=bias, device=device, dtype=dtype)
        self.squash = torch.sigmoid if gate == "sigmoid" else torch.tanh

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels_last = x.movedim(1, -1)
        out = self.value(channels_last) * self.squash(self.gate(channels_last))
        return out.movedim(-1, 1)
