"""The few torch modules netspec adds: what composite kinds build into. Everything else is torch's.

Both are ordinary ``nn.Module``s: they pickle, script, export and load state dicts like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn


class Residual(nn.Module):
    """``post(body(x) + shortcut(x))``; without a shortcut, ``post(body(x))``.

    Children are registered body, shortcut, post, so parameters come in the order of a
    torchvision block (convolutions, then the projection).
    """

    def __init__(
        self, body: nn.Module, shortcut: nn.Module | None, post: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.post = post

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out if self.post is None else self.post(out)


class Parallel(nn.Module):
    """Branches on the same input, concatenated on the channel axis (dim 1) or added."""

    def __init__(
        self, branches: Sequence[nn.Module], merge: Literal["concat", "add"] = "concat"
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
            total = total + output
        return total

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}"
