"""Normalisation without running statistics: ``GroupNorm``, ``LayerNorm`` and
``LocalResponseNorm`` (batch and instance norm: ``netspec.layers.norm_batch``).

The channel count is inferred from the incoming shape (``num_channels``). Receptive field:
unchanged; statistics over an axis are not counted, the usual convention of receptive-field
analyses.
"""

from __future__ import annotations

from math import prod
from typing import Annotated, Any, ClassVar

from pydantic import Field

from netspec.core.errors import fail
from netspec.core.shapes import Shape
from netspec.layers.base import Layer
from netspec.layers.fields import Bool, Float, PositiveInt
from netspec.layers.norm_batch import BIAS_DESCRIPTION, ChannelAffine, affine_lines
from netspec.layers.registry import register

__all__ = ["GroupNorm", "LayerNorm", "LocalResponseNorm"]


@register
class GroupNorm(ChannelAffine):
    """Group normalisation, exactly ``torch.nn.GroupNorm``: the C channels are split into
    ``num_groups`` groups, each normalised over its channels and all positions.

    ``num_groups`` must divide C, and a group must hold more than one value per sample
    (``C / num_groups * prod(spatial) > 1``; torch refuses a single value in training).

    Shape:
        unchanged: ``[C, *] -> [C, *]``.
    Receptive field:
        unchanged (the group statistics are not counted).
    Parameters:
        ``2 C`` (weight and bias) when ``affine``, ``C`` with ``bias: false``.
    Example::

        - GroupNorm: {num_groups: 32}
    """

    kind = "GroupNorm"
    inferred: ClassVar[tuple[str, ...]] = ("num_channels",)

    num_groups: PositiveInt = Field(description="Number of groups; must divide the channels.")
    num_channels: PositiveInt | None = Field(
        default=None, description="Channels C. Inferred from the incoming shape."
    )
    eps: Float = Field(default=1e-5, description="Added to the variance. Default: 1e-5")
    affine: Bool = Field(
        default=True, description="Learnable per-channel weight and bias. Default: True"
    )
    bias: Bool = Field(default=True, description=BIAS_DESCRIPTION)

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        channels = in_shape[0]
        if channels % self.num_groups:
            raise fail(
                f"num_groups must divide the channels; received num_groups={self.num_groups} "
                f"for {channels} channels (input {list(in_shape)})",
                field="num_groups",
            )
        if channels // self.num_groups * prod(in_shape[1:]) == 1:
            raise fail(
                f"each of the {self.num_groups} groups would hold a single value of the input "
                f"{list(in_shape)}, which torch refuses to normalise in training; use fewer "
                f"groups",
                field="num_groups",
            )
        return self.check_asserted({"num_channels": channels}, in_shape)

    def cancels_channel_bias(self, in_shape: Shape) -> bool:
        """Only with one channel per group is each channel's own mean subtracted."""
        return self.num_groups == in_shape[0]


NormalizedShape = PositiveInt | Annotated[tuple[PositiveInt, ...], Field(min_length=1)]


@register
class LayerNorm(Layer):
    """Layer normalisation over the trailing dims, exactly ``torch.nn.LayerNorm``.

    ``normalized_shape`` may be left out: it then is the last dim of the input (the common
    ``[tokens, features]`` case). Written, as an int or a list, it must equal the trailing
    dims of one sample: ``[H, W]`` on ``[C, H, W]`` normalises each channel's plane.

    Shape:
        unchanged: ``[*, *normalized_shape] -> [*, *normalized_shape]``.
    Receptive field:
        unchanged (the statistics over the normalised dims are not counted).
    Parameters:
        ``prod(normalized_shape)`` for the weight when ``elementwise_affine``, as many again for
        the bias when ``bias`` too.
    Example::

        - LayerNorm                          # over the last dim
        - LayerNorm: {normalized_shape: [7, 7], elementwise_affine: false}
    """

    kind = "LayerNorm"
    is_normalization = True

    normalized_shape: NormalizedShape | None = Field(
        default=None,
        description="Trailing dims to normalise over: an int or a list. Default (netspec): the "
        "last dim of the input.",
    )
    eps: Float = Field(default=1e-5, description="Added to the variance. Default: 1e-5")
    elementwise_affine: Bool = Field(
        default=True, description="Learnable weight (and bias) per element. Default: True"
    )
    bias: Bool = Field(
        default=True, description="Learn a bias too (when elementwise_affine). Default: True"
    )

    def normalized_dims(self, in_shape: Shape) -> tuple[int, ...]:
        """``normalized_shape`` as a tuple, the last dim of ``in_shape`` when left out."""
        value = self.normalized_shape
        if value is None:
            return (in_shape[-1],)
        return (value,) if isinstance(value, int) else tuple(value)

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        dims = self.normalized_dims(in_shape)
        if len(dims) > len(in_shape) or in_shape[len(in_shape) - len(dims) :] != dims:
            raise fail(
                f"normalized_shape must equal the trailing dims of one sample; received "
                f"normalized_shape={list(dims)} for the input {list(in_shape)}",
                field="normalized_shape",
            )
        if self.normalized_shape is None:
            return {"normalized_shape": dims[0]}
        return {}

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        return in_shape

    def cancels_channel_bias(self, in_shape: Shape) -> bool:
        """Normalised over trailing dims that leave out the channels (``[W]`` of ``[C, H, W]``),
        every group of values whose mean is subtracted lies within one channel, so a constant
        added per channel is subtracted again; over every dim of a sample it is not."""
        return len(self.normalized_dims(in_shape)) < len(in_shape)

    def parameter_count(self, in_shape: Shape) -> int:
        if not self.elementwise_affine:
            return 0
        size = prod(self.normalized_dims(in_shape))
        return 2 * size if self.bias else size

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``params = 2*(7*7) = 98``: a weight (and bias) per normalised element."""
        elements = "*".join(map(str, self.normalized_dims(in_shape)))
        if "*" in elements:
            elements = f"({elements})"
        return affine_lines(elements, self.parameter_count(in_shape), self.bias)


@register
class LocalResponseNorm(Layer):
    """Local response normalisation across channels, exactly ``torch.nn.LocalResponseNorm``.

    ``b_c = a_c / (k + alpha / size * sum of a_c'^2 over the size channels around c) ^ beta``.
    A sample needs a channel dim and at least one more (``[C, L]``, ``[C, H, W]``, ...).

    Shape:
        unchanged: ``[C, *spatial] -> [C, *spatial]``.
    Receptive field:
        unchanged (it mixes channels, not positions).
    Example::

        - LocalResponseNorm: {size: 5, alpha: 0.0001, beta: 0.75, k: 2.0}
    """

    kind = "LocalResponseNorm"

    size: PositiveInt = Field(description="Number of neighbouring channels summed over.")
    alpha: Float = Field(default=1e-4, description="Multiplicative factor. Default: 0.0001")
    beta: Float = Field(default=0.75, description="Exponent. Default: 0.75")
    k: Float = Field(default=1.0, description="Additive factor. Default: 1.0")

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) < 2:
            raise fail(
                f"LocalResponseNorm expects one sample with a channel dim and at least one "
                f"more ([C, L], [C, H, W], ...); received {list(in_shape)}"
            )
        return in_shape
