"""``Linear``: a fully connected layer on the last dim of its input."""

from __future__ import annotations

from math import prod
from typing import Any, ClassVar

from pydantic import Field

from netspec.core.errors import fail
from netspec.core.shapes import Shape
from netspec.layers.base import RF, Layer
from netspec.layers.fields import Bool, PositiveInt
from netspec.layers.registry import register

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
        ``in_features * out_features`` at every position of the leading dims,
        ``prod(in_shape[:-1]) * in_features * out_features``; the bias is not counted.
    Example::

        - Flatten
        - Linear: {out_features: 120}
    """

    kind = "Linear"
    is_fully_connected = True
    inferred: ClassVar[tuple[str, ...]] = ("in_features",)

    in_features: PositiveInt | None = Field(
        default=None, description="Size of each input row. Inferred: the last dim of the input."
    )
    out_features: PositiveInt = Field(description="Size of each output row.")
    bias: Bool = Field(default=True, description="Learn an additive bias. Default: True")

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        if self.in_features not in (None, in_shape[-1]) and len(in_shape) > 1:
            self._suggest_flatten(in_shape)
        return self.check_asserted({"in_features": in_shape[-1]}, in_shape)

    def _suggest_flatten(self, in_shape: Shape) -> None:
        """An asserted ``in_features`` that fits the flattened input: ``Flatten`` is missing."""
        flat = prod(in_shape)
        received = f"received in_features={self.in_features}"
        if self.in_features == flat:
            raise fail(
                f"Linear receives {'x'.join(map(str, in_shape))}: add Flatten first; in_features "
                f"would be {flat} ({received}, but without Flatten Linear acts on the last dim, "
                f"{in_shape[-1]})",
                field="in_features",
            )
        raise fail(
            f"in_features follows from the input shape {list(in_shape)} and must be "
            f"{in_shape[-1]} (Linear acts on the last dim); {received}. After Flatten it "
            f"would be {flat}",
            field="in_features",
        )

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

    def channel_bias(self, in_shape: Shape) -> int:
        """On ``[F]`` samples the bias is one constant per feature (the channel dim)."""
        return self.out_features if self.bias and len(in_shape) == 1 else 0

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        """``prod(leading dims) * in_features * out_features``: one matrix product per row."""
        return prod(in_shape[:-1]) * in_shape[-1] * self.out_features

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``params = 120*400 + 120 = 48120``, ``MACs = 400*120 = 48,000`` (per leading
        position: ``(64*7)*7*10`` on ``[64, 7, 7]``)."""
        bias = f" + {self.out_features}" if self.bias else ""
        params = self.parameter_count(in_shape)
        rows = "*".join(map(str, in_shape[:-1]))
        positions = f"({rows})*" if rows else ""
        return [
            f"params = {self.out_features}*{in_shape[-1]}{bias} = {params}",
            f"MACs = {positions}{in_shape[-1]}*{self.out_features} = "
            f"{self.macs(in_shape, out_shape):,} (bias not counted)",
        ]
