"""``Linear``: a fully connected layer on the last dim of its input."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from ..shapes import Shape
from .base import RF, Bool, Layer, PositiveInt, register

__all__ = ["Linear"]


@register
class Linear(Layer):
    """``y = x W^T + b`` on the last dim, exactly ``torch.nn.Linear``.

    ``in_features`` is the last dim of the input. As in torch, the layer applies to the last dim
    of a sample of any rank: on a feature map ``[64, 7, 7]`` it maps each row of 7 values and
    gives ``[64, 7, out_features]``, which is legal but rarely meant. To classify a feature map,
    ``Flatten`` first (``[64, 7, 7] -> [3136]``).

    Shape:
        ``[*, in_features] -> [*, out_features]``.
    Receptive field:
        each output mixes the whole last dim; when that dim is a spatial axis of extent ``n``
        the axis becomes whole, ``r_out = r_in + (n - 1) j_in``. Other axes are unchanged.
    Parameters:
        ``in_features * out_features`` weights, plus ``out_features`` with ``bias``.
    MACs:
        torchinfo's count, one per weight and bias element per sample. On a sample of higher
        rank the layer really does that many for each position of the leading dims
        (``prod(in_shape[:-1])`` times as many); torchinfo, and so netspec, counts them once.
    Example::

        - Flatten
        - Linear: {out_features: 120}
    """

    kind = "Linear"
    inferred: ClassVar[tuple[str, ...]] = ("in_features",)

    in_features: PositiveInt | None = Field(
        default=None, description="Size of each input row. Inferred: the last dim of the input."
    )
    out_features: PositiveInt = Field(description="Size of each output row.")
    bias: Bool = Field(default=True, description="Learn an additive bias. Default: True")

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        return self.check_asserted({"in_features": in_shape[-1]}, in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        return (*in_shape[:-1], self.out_features)

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        if len(in_shape) < 2 or len(in_shape) != len(rf) + 1:
            return rf  # the last dim is the channels, or no longer a located spatial axis
        return (*rf[:-1], rf[-1].whole(in_shape[-1]))

    def parameter_count(self, in_shape: Shape) -> int:
        in_features, out_features = in_shape[-1], self.out_features
        return in_features * out_features + (out_features if self.bias else 0)
