"""Attention over a token sequence: torch's ``MultiheadAttention`` (as self-attention) and
``TransformerEncoderLayer``, both ``batch_first`` on ``[N, D]`` samples.

MACs (``FlopCounterMode`` / 2 on the math attention path; ``netspec.torch_side.flop_count``):
the projections are Linear layers on every token, and the scores and the weighted sum are two
matrix products per head, ``N x d`` by ``d x N`` and ``N x N`` by ``N x d`` (``d = D / heads``,
so the heads drop out)::

    Q, K, V and output projections   4 N D^2
    Q K^T and A V                    2 N^2 D
    feed-forward (encoder layer)     2 N D F

Softmax, the scaling, norms, activations and residual adds count 0. Receptive field: every
output reads every token and every feature, so each located axis the sample carries becomes
whole ("global attention sees the whole input").
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from netspec.core.errors import fail
from netspec.core.shapes import Shape
from netspec.layers.base import RF, Layer, ShapeAfter, TorchCall, expect_rank
from netspec.layers.fields import Bool, Float, PositiveInt, Probability
from netspec.layers.registry import register
from netspec.layers.tokens import TOKENS, mix_tokens

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "attention_macs"]


def attention_macs(tokens: int, dim: int) -> int:
    """``4 N D^2 + 2 N^2 D``: the four projections and the two products of attention."""
    return 4 * tokens * dim * dim + 2 * tokens * tokens * dim


def _probability(p: float) -> float:
    if not 0 <= p <= 1:
        raise ValueError(f"dropout must be between 0 and 1; received {p}")
    return p


class _Attention(Layer):
    """Shared by the two kinds: ``[N, D]`` in and out, D split into heads."""

    def heads(self) -> int:
        raise NotImplementedError

    def check(self, in_shape: Shape) -> tuple[int, int]:
        expect_rank(self, in_shape, 2, TOKENS)
        tokens, dim = in_shape
        heads = self.heads()
        if dim % heads:
            field = "num_heads" if "num_heads" in type(self).model_fields else "nhead"
            raise fail(f"the features D = {dim} (last dim of {list(in_shape)}) must be a "
                       f"multiple of {field}={heads}, each head taking D / {field}", field=field)
        return tokens, dim

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)  # checks the shape and a written embed_dim / d_model
        return in_shape

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        return mix_tokens(rf, in_shape, (0, 1))

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        return ["RF: every output reads all tokens: the input the tokens carry is seen whole"]


@register
class MultiheadAttention(_Attention):
    """Self-attention, exactly ``torch.nn.MultiheadAttention(D, num_heads, batch_first=True)``
    called as ``attn(x, x, x, need_weights=False)[0]`` (ViT's ``self_attention``):
    ``softmax(Q K^T / sqrt(D / heads)) V`` per head, then the output projection.

    Shape: ``[N, D] -> [N, D]`` (``embed_dim`` D inferred; ``num_heads`` must divide it).
    Receptive field: every token sees all tokens: the axes they carry become whole.
    Parameters: ``in_proj_weight [3D, D]``, ``out_proj.weight [D, D]``, with ``bias``
    ``in_proj_bias [3D]`` and ``out_proj.bias [D]``: ``4 D^2 + 4 D``.
    MACs: ``4 N D^2 + 2 N^2 D``.
    Example::

        - MultiheadAttention: {num_heads: 12}
    """

    kind = "MultiheadAttention"
    inferred: ClassVar[tuple[str, ...]] = ("embed_dim",)

    embed_dim: PositiveInt | None = Field(
        default=None, description="Features D. Inferred: the last dim of the input.")
    num_heads: PositiveInt = Field(description="Number of heads; must divide D.")
    dropout: Probability = Field(default=0.0, description="Dropout on the attention weights. "
                           "Default: 0.0")
    bias: Bool = Field(default=True, description="Biases in the projections. Default: True")

    _probability = field_validator("dropout")(_probability)

    def heads(self) -> int:
        return self.num_heads

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        return self.check_asserted({"embed_dim": self.check(in_shape)[1]}, in_shape)

    def parameter_count(self, in_shape: Shape) -> int:
        dim = in_shape[-1]
        return 4 * dim * dim + (4 * dim if self.bias else 0)

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return attention_macs(*self.check(in_shape))

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        tokens, dim = self.check(in_shape)
        bias = f" + 4*{dim}" if self.bias else ""
        return [
            f"head dim = {dim}/{self.num_heads} = {dim // self.num_heads}",
            f"params = 4*{dim}^2{bias} = {self.parameter_count(in_shape)}",
            f"MACs = 4*{tokens}*{dim}^2 (Q, K, V, out) + 2*{tokens}^2*{dim} (QK^T, AV) = "
            f"{self.macs(in_shape, out_shape)}",
        ]


@register
class TransformerEncoderLayer(_Attention):
    """One transformer encoder layer, exactly ``torch.nn.TransformerEncoderLayer(D, nhead, ...,
    batch_first=True)`` with torch's defaults (post-norm, ReLU, dropout 0.1):
    ``x + attn(norm1(x))`` then ``x + ff(norm2(x))`` with ``norm_first``, else
    ``norm1(x + attn(x))`` then ``norm2(x + ff(x))``; ``ff = linear2(dropout(act(linear1)))``.

    Shape: ``[N, D] -> [N, D]`` (``d_model`` D inferred; ``nhead`` must divide it).
    Receptive field: every token sees all tokens: the axes they carry become whole.
    Parameters (F = dim_feedforward): ``4 D^2 + 2 D F + 9 D + F`` with ``bias``
    (attention ``4 D^2 + 4 D``, linear1 ``D F + F``, linear2 ``F D + D``, two norms ``2 D``
    each); without: ``4 D^2 + 2 D F + 2 D`` (the norms keep their weights).
    MACs: ``4 N D^2 + 2 N^2 D + 2 N D F``.
    Example::

        - TransformerEncoderLayer: {nhead: 4, dim_feedforward: 1024, norm_first: true}
    """

    kind = "TransformerEncoderLayer"
    inferred: ClassVar[tuple[str, ...]] = ("d_model",)

    d_model: PositiveInt | None = Field(
        default=None, description="Features D. Inferred: the last dim of the input.")
    nhead: PositiveInt = Field(description="Number of attention heads; must divide D.")
    dim_feedforward: PositiveInt = Field(
        default=2048, description="Width F of the feed-forward block. Default: 2048")
    dropout: Probability = Field(default=0.1, description="Dropout probability. Default: 0.1")
    activation: Literal["relu", "gelu"] = Field(
        default="relu", description="Feed-forward activation. Default: relu")
    layer_norm_eps: Float = Field(default=1e-5, description="Norms' eps. Default: 1e-5")
    norm_first: Bool = Field(
        default=False, description="Pre-norm (norm before attention and feed-forward); "
        "torch's default False is post-norm. Default: False")
    bias: Bool = Field(default=True, description="Biases in linears and norms. Default: True")

    _probability = field_validator("dropout")(_probability)

    def heads(self) -> int:
        return self.nhead

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        return self.check_asserted({"d_model": self.check(in_shape)[1]}, in_shape)

    def parameter_count(self, in_shape: Shape) -> int:
        dim, ff = in_shape[-1], self.dim_feedforward
        if self.bias:
            return 4 * dim * dim + 2 * dim * ff + 9 * dim + ff
        return 4 * dim * dim + 2 * dim * ff + 2 * dim

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        tokens, dim = self.check(in_shape)
        return attention_macs(tokens, dim) + 2 * tokens * dim * self.dim_feedforward

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        return TorchCall("TransformerEncoderLayer", self.torch_kwargs(in_shape))

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        tokens, dim = self.check(in_shape)
        ff = self.dim_feedforward
        params = (f"4*{dim}^2 + 2*{dim}*{ff} + 9*{dim} + {ff}" if self.bias
                  else f"4*{dim}^2 + 2*{dim}*{ff} + 2*{dim}")
        return [
            f"params = {params} = {self.parameter_count(in_shape)}",
            f"MACs = 4*{tokens}*{dim}^2 + 2*{tokens}^2*{dim} + 2*{tokens}*{dim}*{ff} = "
            f"{self.macs(in_shape, out_shape)}",
        ]
