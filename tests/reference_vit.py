"""Plain-PyTorch references for the token kinds, written in the tests from the architecture
torchvision documents (``torchvision/models/vision_transformer.py``), not from netspec:

- ``SelfAttention``: ``softmax(Q K^T / sqrt(d)) V`` by hand, with ``nn.MultiheadAttention``'s
  parameter names (``in_proj_weight``, ``in_proj_bias``, ``out_proj``) so either loads the
  other's state dict;
- ``VisionTransformer``: torchvision's ViT layout (``class_token``, ``conv_proj``,
  ``encoder.pos_embedding``, ``encoder.layers.encoder_layer_i``, ``encoder.ln``, ``heads.head``).

No torchvision import: the test suite does not depend on it.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SelfAttention(nn.Module):
    """Multi-head self-attention on ``[B, N, D]``, written out."""

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: Tensor) -> Tensor:
        batch, tokens, dim = x.shape
        heads, width = self.num_heads, dim // self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(batch, tokens, 3, heads, width).permute(2, 0, 3, 1, 4).unbind(0)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(width)  # [B, H, N, N]
        out = torch.matmul(scores.softmax(dim=-1), v)  # [B, H, N, d]
        out_proj: Tensor = self.out_proj(out.transpose(1, 2).reshape(batch, tokens, dim))
        return out_proj


class EncoderBlock(nn.Module):
    """``x + attn(ln_1(x))``, then ``y + mlp(ln_2(y))``; MLP Linear, GELU, Dropout, Linear,
    Dropout (weights at 0 and 3)."""

    def __init__(self, heads: int, dim: int, mlp_dim: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = SelfAttention(dim, heads)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(mlp_dim, dim), nn.Dropout(0.0))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.dropout(self.self_attention(self.ln_1(x)))
        out: Tensor = x + self.mlp(self.ln_2(x))
        return out


class Encoder(nn.Module):
    def __init__(self, tokens: int, layers: int, heads: int, dim: int, mlp_dim: int) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, tokens, dim).normal_(std=0.02))
        self.dropout = nn.Dropout(0.0)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(heads, dim, mlp_dim)) for i in range(layers)))
        self.ln = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.ln(self.layers(self.dropout(x + self.pos_embedding)))
        return out


class VisionTransformer(nn.Module):
    """``[B, 3, S, S]`` -> patch conv -> ``[B, N, D]`` -> class token -> encoder -> token 0 ->
    ``heads.head``. ``class_token`` is the model's own parameter: first in the state dict."""

    def __init__(self, image_size: int, patch_size: int, num_layers: int, num_heads: int,
                 hidden_dim: int, mlp_dim: int, num_classes: int) -> None:
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.conv_proj = nn.Conv2d(3, hidden_dim, patch_size, stride=patch_size)
        tokens = (image_size // patch_size) ** 2 + 1
        self.encoder = Encoder(tokens, num_layers, num_heads, hidden_dim, mlp_dim)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(hidden_dim, num_classes)))

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        out: Tensor = self.heads(self.encoder(x)[:, 0])
        return out


def netspec_order(state: dict[str, Tensor]) -> list[str]:
    """The reference's keys in the order of a netspec ViT's state dict: the class token comes
    after the patch convolution (it is a layer there, a parameter of the model here)."""
    keys = list(state)
    keys.remove("class_token")
    keys.insert(2, "class_token")
    return keys
