"""Plugin kinds that misbehave, for the tests: each as a user might write it by mistake.

Like a real plugin, this module does not import torch; their modules are in ``tests.plugins.
modules``, named by ``torch_name``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netspec.core.shapes import Shape
from netspec.layers import Layer
from netspec.layers.base import RF
from netspec.layers.fields import PositiveInt


class Explodes(Layer):
    """Raises inside its shape rule (not a NetspecError)."""

    kind = "Explodes"
    torch_name = "Identity"

    def output_shape(self, in_shape: Shape) -> Shape:
        return (in_shape[0] // 0, *in_shape[1:])


class Liar(Layer):
    """Says the shape is unchanged; its module doubles the channels."""

    kind = "Liar"
    torch_name = "tests.plugins.modules:Doubler"


class Garbage(Layer):
    """Returns something that is no shape."""

    kind = "Garbage"
    torch_name = "Identity"

    def output_shape(self, in_shape: Shape) -> Shape:
        return ("wide", "tall")  # type: ignore[return-value]


class Swish(Layer):
    """``x * sigmoid(beta x)`` with a fixed beta: an activation the lints ask about."""

    kind = "Swish"
    torch_name = "SiLU"
    is_activation = True

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        return rf

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return 0


class Widen(Layer):
    """Multiplies the channels by ``factor`` (a 1x1 convolution without bias): the fuzz
    campaign draws its fields."""

    kind = "Widen"
    torch_name = "tests.plugins.modules:WidenModule"

    factor: PositiveInt = Field(description="Channels out per channel in.")
    scale: float = Field(default=1.0, ge=0.5, le=2.0, description="A multiplier.")

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        return {"in_channels": in_shape[0]}  # for the module; not an argument of the kind

    def output_shape(self, in_shape: Shape) -> Shape:
        return (in_shape[0] * self.factor, *in_shape[1:])

    def parameter_count(self, in_shape: Shape) -> int:
        return in_shape[0] * in_shape[0] * self.factor

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        return rf

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        positions = 1
        for size in in_shape[1:]:
            positions *= size
        return self.parameter_count(in_shape) * positions
