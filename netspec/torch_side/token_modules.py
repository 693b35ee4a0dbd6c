"""netspec's modules for the token kinds (``netspec.layers.tokens``, ``netspec.layers.attention``):
a class token, a position embedding, token selection and mean, and torch's own
``MultiheadAttention`` / ``TransformerEncoderLayer`` fixed to ``batch_first`` with one input.

Each keeps its constructor arguments as attributes of the same name (``from_module`` reads
them; torch's encoder layer holds its ``dropout`` and ``activation`` as modules and functions,
so its arguments are also kept in ``netspec_args``). Every module with tensors of its own has
``reset_parameters`` (``netspec.init_weights``); a buffer that is a function of the arguments
(the sinusoidal table) is recomputed there, since a meta build moved with ``to_empty`` holds
garbage.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

__all__ = ["ClassToken", "MultiheadAttention", "PositionEmbedding", "SelectToken",
           "TokenMean", "TransformerEncoderLayer", "sinusoidal_table"]

Device = torch.device | str | None


class ClassToken(nn.Module):
    """Prepends a learned token: ``[B, N, D] -> [B, N + 1, D]``. Parameter ``class_token``
    ``[1, 1, D]``, zeros at first (torchvision's ViT)."""

    def __init__(self, embed_dim: int, device: Device = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, embed_dim, device=device, dtype=dtype))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.class_token)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)


def sinusoidal_table(tokens: int, dim: int, device: Device = None,
                     dtype: torch.dtype | None = None) -> torch.Tensor:
    """``[1, N, D]``: even features ``sin(p / 10000^(2i/D))``, odd ones ``cos`` of the same."""
    position = torch.arange(tokens, dtype=torch.float64)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
    table = torch.zeros(tokens, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: dim // 2])
    return table[None].to(device=device, dtype=dtype or torch.get_default_dtype())


class PositionEmbedding(nn.Module):
    """``x + pos``, ``pos`` ``[1, N, D]``: the parameter ``pos_embedding`` (``learnable``, normal
    with std 0.02, torchvision's ViT) or the buffer ``table`` (``sinusoidal``, not saved)."""

    def __init__(self, num_tokens: int, embed_dim: int,
                 mode: Literal["learnable", "sinusoidal"] = "learnable",
                 device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if mode not in ("learnable", "sinusoidal"):
            raise ValueError(f"mode must be learnable or sinusoidal; received {mode!r}")
        self.mode = mode
        self.num_tokens, self.embed_dim = num_tokens, embed_dim
        if mode == "learnable":
            self.pos_embedding = nn.Parameter(
                torch.empty(1, num_tokens, embed_dim, device=device, dtype=dtype))
        else:
            self.register_buffer("table", torch.empty(1, num_tokens, embed_dim, device=device,
                                                      dtype=dtype), persistent=False)
        if torch.device(device or "cpu").type != "meta":
            self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.mode == "learnable":
                nn.init.normal_(self.pos_embedding, std=0.02)
            else:
                table = self.get_buffer("table")
                table.copy_(sinusoidal_table(self.num_tokens, self.embed_dim, "cpu",
                                             table.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "learnable":
            return x + self.get_parameter("pos_embedding")
        return x + self.get_buffer("table")

    def extra_repr(self) -> str:
        return f"num_tokens={self.num_tokens}, embed_dim={self.embed_dim}, mode={self.mode!r}"


class SelectToken(nn.Module):
    """``x[:, index]``: ``[B, N, D] -> [B, D]``."""

    def __init__(self, index: int = 0) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.index]

    def extra_repr(self) -> str:
        return f"index={self.index}"


class TokenMean(nn.Module):
    """``x.mean(dim=1)``: ``[B, N, D] -> [B, D]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1)


class MultiheadAttention(nn.MultiheadAttention):
    """torch's module with ``batch_first=True``, as self-attention on one input:
    ``forward(x)`` is ``super().forward(x, x, x, need_weights=False)[0]`` (torchvision's ViT
    calls it so). The state dict is torch's: ``in_proj_weight [3D, D]``, ``in_proj_bias [3D]``,
    ``out_proj.weight [D, D]``, ``out_proj.bias [D]``."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, batch_first=True,
                         device=device, dtype=dtype)
        self.bias = bias

    def reset_parameters(self) -> None:
        """torch calls it ``_reset_parameters``; ``netspec.init_weights`` calls this name."""
        self._reset_parameters()

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, *args: Any, **kwargs: Any
    ) -> Any:
        """``attn(x)``: self-attention, one tensor out. With more arguments (an encoder
        layer calls ``self_attn(x, x, x, attn_mask=...)``), torch's call and its tuple."""
        if args or kwargs:
            return super().forward(x, *args, **kwargs)
        out: torch.Tensor = super().forward(x, x, x, need_weights=False)[0]
        return out


class TransformerEncoderLayer(nn.TransformerEncoderLayer):
    """torch's encoder layer with ``batch_first=True``; the activation by name (``relu``,
    ``gelu``). Its arguments are kept in ``netspec_args`` (torch keeps ``dropout`` as a module
    and ``activation`` as a function under those names)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Literal["relu", "gelu"] = "relu",
                 layer_norm_eps: float = 1e-5, norm_first: bool = False, bias: bool = True,
                 device: Device = None, dtype: torch.dtype | None = None) -> None:
        super().__init__(d_model, nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                         activation=activation, layer_norm_eps=layer_norm_eps,
                         batch_first=True, norm_first=norm_first, bias=bias, device=device,
                         dtype=dtype)
        self.self_attn = MultiheadAttention(  # the same tensors; it has reset_parameters
            d_model, nhead, dropout=dropout, bias=bias, device=device, dtype=dtype)
        self.netspec_args: dict[str, Any] = {
            "nhead": nhead, "dim_feedforward": dim_feedforward, "dropout": dropout,
            "activation": activation, "layer_norm_eps": layer_norm_eps,
            "norm_first": norm_first, "bias": bias}

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.netspec_args.items())
