"""``GatedUnit``: a gated linear unit across channels, without importing torch.

At every position of a sample ``[C, *spatial]`` it computes ``(W x + b) * sigmoid(V x + c)``
with ``W, V`` of shape ``[out_channels, C]`` (Dauphin et al. 2017, "Language Modeling with
Gated Convolutional Networks", applied pointwise), so::

    output shape     [out_channels, *spatial]
    parameters       2 * (C * out_channels + out_channels)   (without the biases: 2 C out)
    receptive field  unchanged (pointwise)
    MACs             not given: netspec shows them as unknown ("?", null in JSON)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

import netspec
from netspec.core.errors import fail
from netspec.core.shapes import Shape
from netspec.layers import Layer
from netspec.layers.base import RF
from netspec.layers.fields import Bool, PositiveInt


@netspec.register_kind
class GatedUnit(Layer):
    """A gated linear unit across channels: (W x + b) * sigmoid(V x + c) at every position.

    Example: ``- GatedUnit: {out_channels: 64}``
    """

    kind = "GatedUnit"
    torch_name = "netspec_example_plugin.modules:GatedUnitModule"
    inferred = ("in_channels",)

    in_channels: PositiveInt | None = Field(
        default=None, description="Channels in (dim 0 of a sample). Inferred.")
    out_channels: PositiveInt = Field(description="Channels out.")
    bias: Bool = Field(default=True, description="Add the biases b and c. Default: True")
    gate: Literal["sigmoid", "tanh"] = Field(
        default="sigmoid", description="The gate's squashing function. Default: 'sigmoid'")

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        if len(in_shape) < 1:
            raise fail(f"GatedUnit needs a channel dim; received {list(in_shape)}")
        return self.check_asserted({"in_channels": in_shape[0]}, in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        return (self.out_channels, *in_shape[1:])

    def parameter_count(self, in_shape: Shape) -> int:
        return 2 * (in_shape[0] * self.out_channels + (self.out_channels if self.bias else 0))

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        return rf  # pointwise: each output position sees its own input position only

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        c, out = in_shape[0], self.out_channels
        bias = f" + {out}" if self.bias else ""
        return [f"params = 2*({c}*{out}{bias}) = {self.parameter_count(in_shape)}"]
