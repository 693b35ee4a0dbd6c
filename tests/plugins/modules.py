"""The torch modules of the test plugins in ``tests.plugins.kinds``."""

from __future__ import annotations

import torch
from torch import nn


class Doubler(nn.Module):
    """Two copies of the input along the channels (what ``Liar`` does not say)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x], dim=1)


class WidenModule(nn.Module):
    """A bias-free 1x1 linear map from C to C * factor channels at every position, scaled."""

    def __init__(self, in_channels: int, factor: int, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.randn(in_channels * factor, in_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oc,nc...->no...", self.weight, x) * self.scale
