"""Token kinds: what turns a feature map into a sequence model's stream and back.

A token sample is ``[N, D]``: N tokens of D features (``batch_first``, the batch not counted).
``ClassToken`` prepends a learned token, ``PositionEmbedding`` adds a learned or a fixed
(sinusoidal) code per position, ``SelectToken`` and ``TokenMean`` reduce the tokens to one
vector, and ``Embedding`` (``torch.nn.Embedding``) turns integer ids into vectors (the spec's
input is then ``{shape: [128], dtype: long}``).

MACs: none of these multiplies matrices (a concatenation, an add, an index, a mean, a gather):
0, as ``FlopCounterMode`` counts them. Receptive field: unchanged, except ``TokenMean``, which
mixes every token (the token axis, where it still carries a located input axis, becomes whole).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from netspec.core.errors import fail
from netspec.core.shapes import CHANNEL_AXIS, AxisRF, Shape, column_start
from netspec.layers.base import RF, Layer, ShapeAfter, TorchCall, expect_rank
from netspec.layers.fields import Bool, Float, PositiveInt, StrictInt
from netspec.layers.registry import register

__all__ = ["ClassToken", "Embedding", "PositionEmbedding", "SelectToken", "TokenMean",
           "mix_tokens", "per_dim"]

TOKENS = "[N, D] (N tokens of D features)"


def per_dim(rf: RF, in_shape: Shape) -> bool:
    """Whether ``rf`` has one column per dim of ``in_shape`` (a channels-last layout, the
    channel dim's column being ``CHANNEL_AXIS``)."""
    return column_start(rf, in_shape) == 0


def mix_tokens(rf: RF, in_shape: Shape, dims: tuple[int, ...]) -> RF:
    """The field after a layer whose every output reads every position of the sample ``dims``
    (attention: the tokens and the features). A column follows its dim (one column per dim in
    a channels-last layout, one per dim after the first in ``[C, *spatial]``); each located
    column of a mixed dim becomes whole over that dim; columns without a location (after
    ``Flatten``, the channel marker, token ids) are unchanged."""
    first = column_start(rf, in_shape)
    if first is None:
        return rf
    return tuple(
        axis.whole(in_shape[dim]) if dim in dims else axis
        for dim, axis in enumerate(rf, start=first)
    )


def _without_channel(rf: RF) -> RF:
    """The columns of a sample that lost its token dim: the channel marker goes too (``[D]``
    is a vector of features, its channels at dim 0, where no column marks them; the columns
    left are the fields it was computed from)."""
    return tuple(axis for axis in rf if axis != CHANNEL_AXIS)


class _TokenLayer(Layer):
    """A kind on ``[N, D]`` token samples."""

    def check_tokens(self, in_shape: Shape) -> tuple[int, int]:
        expect_rank(self, in_shape, 2, TOKENS)
        return in_shape[0], in_shape[1]


@register
class ClassToken(_TokenLayer):
    """Prepends a learned token to the sequence: ViT's class token (torchvision's
    ``class_token``, a ``[1, 1, D]`` parameter filled with zeros), ``[N, D] -> [N + 1, D]``.

    Shape: ``[N, D] -> [N + 1, D]``.
    Receptive field: unchanged (the new token sees nothing of the input until attention).
    Where the token axis still carries a located input axis (``Permute`` of a ``[C, L]`` map),
    attention after this layer counts the class token as one more position: the whole-axis
    field it reports is then one jump larger than the input.
    Parameters: ``D`` (``class_token`` ``[1, 1, D]``). MACs: 0 (a concatenation).
    Example::

        - ClassToken            # [196, 768] -> [197, 768]
    """

    kind = "ClassToken"
    inferred: ClassVar[tuple[str, ...]] = ("embed_dim",)

    embed_dim: PositiveInt | None = Field(
        default=None, description="Features D of a token. Inferred: the last dim of the input."
    )

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        return self.check_asserted({"embed_dim": self.check_tokens(in_shape)[1]}, in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        tokens, dim = self.check_tokens(in_shape)
        self.infer(in_shape)
        return (tokens + 1, dim)

    def parameter_count(self, in_shape: Shape) -> int:
        return in_shape[-1]

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return 0

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        return [f"N_out = {in_shape[0]} + 1 = {out_shape[0]}",
                f"params = {in_shape[1]} (class_token [1, 1, {in_shape[1]}]); MACs = 0"]


@register
class PositionEmbedding(_TokenLayer):
    """Adds a position code to every token: ``x + pos``, ``pos`` of shape ``[1, N, D]``.

    ``mode: learnable`` (default): a parameter ``pos_embedding``, normal with std 0.02, as
    torchvision's ViT. ``mode: sinusoidal``: the fixed code of Vaswani et al. 2017 (even
    features ``sin(p / 10000^(2i/D))``, odd ones ``cos`` of the same), a buffer ``table`` that
    is not saved in the state dict (it is a function of N and D).

    Shape: unchanged, ``[N, D]`` (N and D inferred).
    Receptive field: unchanged.
    Parameters: ``N D`` when learnable. Buffers: ``N D`` when sinusoidal. MACs: 0 (an add).
    Example::

        - PositionEmbedding                       # learnable, ViT
        - PositionEmbedding: {mode: sinusoidal}   # fixed, the original transformer
    """

    kind = "PositionEmbedding"

    mode: Literal["learnable", "sinusoidal"] = Field(
        default="learnable",
        description="learnable: a trained parameter (ViT); sinusoidal: the fixed code of "
        "Vaswani et al., a buffer. Default: learnable",
    )

    def output_shape(self, in_shape: Shape) -> Shape:
        self.check_tokens(in_shape)
        return in_shape

    def parameter_count(self, in_shape: Shape) -> int:
        return in_shape[0] * in_shape[1] if self.mode == "learnable" else 0

    def buffer_count(self, in_shape: Shape) -> int:
        return in_shape[0] * in_shape[1] if self.mode == "sinusoidal" else 0

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return 0

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        tokens, dim = self.check_tokens(in_shape)
        return TorchCall("PositionEmbedding",
                         {"num_tokens": tokens, "embed_dim": dim, "mode": self.mode})

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        count = in_shape[0] * in_shape[1]
        held = "params" if self.mode == "learnable" else "buffers (not saved)"
        return [f"{held} = {in_shape[0]}*{in_shape[1]} = {count}; MACs = 0 (an add)"]


@register
class SelectToken(_TokenLayer):
    """One token of the sequence, ``x[:, index]``: ViT hands its class token (0) to the head.

    Shape: ``[N, D] -> [D]``; ``index`` in ``[-N, N)``.
    Receptive field: unchanged. Parameters, buffers, MACs: none.
    Example::

        - SelectToken: {index: 0}
    """

    kind = "SelectToken"

    index: StrictInt = Field(default=0, description="Which token (negative from the end). "
                             "Default: 0, the class token")

    def output_shape(self, in_shape: Shape) -> Shape:
        tokens, dim = self.check_tokens(in_shape)
        if not -tokens <= self.index < tokens:
            raise fail(f"index must be in [{-tokens}, {tokens - 1}] for {tokens} tokens "
                       f"({list(in_shape)}); received index={self.index}", field="index")
        return (dim,)

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        if not per_dim(rf, in_shape) or not rf[0].positional:
            return _without_channel(rf)
        # rf is (token axis, channel marker): the chosen token's own field is left, no longer
        # along an axis of the sample
        token = rf[0]
        index = self.index % in_shape[0]
        return (AxisRF(token.size, token.jump, token.start + index * token.jump, False),)

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        return [f"token {self.index % in_shape[0]} of {in_shape[0]}: {list(out_shape)}"]


@register
class TokenMean(_TokenLayer):
    """The mean over the tokens, ``x.mean(dim=1)`` on the batch: a text classifier's pooling.

    Shape: ``[N, D] -> [D]``.
    Receptive field: the token axis is read whole.
    Parameters, buffers, MACs: none (a mean is not a matrix product).
    Example::

        - TokenMean
    """

    kind = "TokenMean"

    def output_shape(self, in_shape: Shape) -> Shape:
        return (self.check_tokens(in_shape)[1],)

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        return _without_channel(mix_tokens(rf, in_shape, (0,)))

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        return [f"mean of {in_shape[0]} tokens: {list(out_shape)}"]


@register
class Embedding(Layer):
    """A look-up table of ``num_embeddings`` vectors of ``embedding_dim``, exactly
    ``torch.nn.Embedding``: each integer id of the input becomes its vector. The input holds
    ids (the spec's ``input: {shape: [128], dtype: long}``), each in ``[0, num_embeddings)``.

    Shape: ``[*] -> [*, embedding_dim]``.
    Receptive field: not defined for ids (the column says ``n/a (token ids)``).
    Parameters: ``num_embeddings * embedding_dim``. MACs: 0 (a gather).
    Example::

        input: {shape: [128], dtype: long}
        layers:
          - Embedding: {num_embeddings: 10000, embedding_dim: 256}
    """

    kind = "Embedding"

    num_embeddings: PositiveInt = Field(description="Size of the vocabulary (ids 0 to n-1).")
    embedding_dim: PositiveInt = Field(description="Size of each vector.")
    padding_idx: StrictInt | None = Field(
        default=None, description="An id whose vector stays zero and gets no gradient.")
    max_norm: Float | None = Field(
        default=None, description="Renormalise looked-up vectors to at most this norm.")
    norm_type: Float = Field(default=2.0, description="The p of max_norm's p-norm. Default: 2")
    scale_grad_by_freq: Bool = Field(
        default=False, description="Scale gradients by the inverse frequency of the ids.")
    sparse: Bool = Field(default=False, description="Sparse gradient of the weight.")

    def output_shape(self, in_shape: Shape) -> Shape:
        if self.padding_idx is not None and not (
                -self.num_embeddings <= self.padding_idx < self.num_embeddings):
            raise fail(f"padding_idx must be in [{-self.num_embeddings}, "
                       f"{self.num_embeddings - 1}]; received padding_idx={self.padding_idx}",
                       field="padding_idx")
        return (*in_shape, self.embedding_dim)

    def parameter_count(self, in_shape: Shape) -> int:
        return self.num_embeddings * self.embedding_dim

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return 0

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        return [f"params = {self.num_embeddings}*{self.embedding_dim} = "
                f"{self.parameter_count(in_shape)}; MACs = 0 (a look-up)"]
