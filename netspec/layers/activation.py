"""Activations: elementwise functions, ``PReLU`` with its learnt slopes, and ``Softmax``.

Every kind here keeps the shape and is pointwise for the receptive field: ``Softmax`` and
``LogSoftmax`` normalise along ``dim``, and, as for the normalisation layers, that sum is not
counted (see ``netspec.layers.norm``). None has parameters except ``PReLU``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from netspec.core.errors import fail
from netspec.core.shapes import Shape
from netspec.layers.base import Layer
from netspec.layers.fields import Bool, Float, PositiveInt, StrictInt
from netspec.layers.leaves import Leaf, leaves_on_demand
from netspec.layers.registry import register

__all__ = ["ELU", "GELU", "LeakyReLU", "PReLU"]


class _InplaceActivation(Layer):
    """An elementwise activation with torch's ``inplace`` flag.

    Shape:
        unchanged.
    Receptive field:
        unchanged (pointwise).
    """

    is_activation = True

    inplace: Bool = Field(default=False, description="Modify the input in place. Default: False")


@register
class LeakyReLU(_InplaceActivation):
    """``x`` if ``x >= 0`` else ``negative_slope * x``, exactly ``torch.nn.LeakyReLU``.

    Shape and receptive field unchanged.
    Example: ``- LeakyReLU: {negative_slope: 0.2}``
    """

    kind = "LeakyReLU"

    negative_slope: Float = Field(default=0.01, description="Slope for x < 0. Default: 0.01")


@register
class ELU(_InplaceActivation):
    """``x`` if ``x > 0`` else ``alpha (exp(x) - 1)``, exactly ``torch.nn.ELU``.

    Shape and receptive field unchanged.
    Example: ``- ELU: {alpha: 1.0}``
    """

    kind = "ELU"

    alpha: Float = Field(default=1.0, description="Value approached for x -> -inf. Default: 1.0")


@register
class GELU(Layer):
    """``x Phi(x)``, exactly ``torch.nn.GELU``; ``approximate: tanh`` uses the tanh formula.

    Shape and receptive field unchanged.
    Example: ``- GELU: {approximate: tanh}``
    """

    kind = "GELU"
    is_activation = True

    approximate: Literal["none", "tanh"] = Field(
        default="none", description="'none' for the exact erf form or 'tanh'. Default: 'none'"
    )


@register
class PReLU(Layer):
    """``x`` if ``x >= 0`` else ``a x`` with learnt slopes ``a``, exactly ``torch.nn.PReLU``.

    ``num_parameters`` is 1 (one slope shared by all channels) or the number of channels C
    (dim 1 of the batch, the first dim of a sample).

    Shape:
        unchanged.
    Receptive field:
        unchanged (pointwise).
    Parameters:
        ``num_parameters``.
    Example::

        - PReLU: {num_parameters: 64}
    """

    kind = "PReLU"
    is_activation = True

    num_parameters: PositiveInt = Field(
        default=1, description="Number of slopes: 1 or the number of channels. Default: 1"
    )
    init: Float = Field(default=0.25, description="Initial value of the slopes. Default: 0.25")

    def output_shape(self, in_shape: Shape) -> Shape:
        if self.num_parameters not in (1, in_shape[0]):
            raise fail(
                f"num_parameters must be 1 or the number of channels; received "
                f"num_parameters={self.num_parameters} for {in_shape[0]} channels "
                f"(input {list(in_shape)})",
                field="num_parameters",
            )
        return in_shape

    def parameter_count(self, in_shape: Shape) -> int:
        return self.num_parameters


class _SoftmaxBase(Layer):
    """What ``Softmax`` and ``LogSoftmax`` share: ``dim`` of the batched tensor.

    ``dim`` counts the batch dimension, as in torch (the built model sees ``[N, *sample]``): on
    ``[C, H, W]`` samples the channels are ``dim: 1`` (or ``-3``). ``dim: 0``, the batch, is
    refused: it would normalise across samples. Left out, torch's deprecated implicit choice
    applies (dim 0 for a 3-dim batch, else dim 1) and the batch is refused likewise.

    Shape:
        unchanged.
    Receptive field:
        unchanged (the sum over ``dim`` is not counted).
    """

    dim: StrictInt | None = Field(
        default=None,
        description="Dimension of the batched input [N, *sample] to normalise along. Default: "
        "torch's implicit choice (deprecated)",
    )

    def output_shape(self, in_shape: Shape) -> Shape:
        # Imported here so that importing this module does not register the reshape kinds first.
        from netspec.layers.reshape import batched_dim, batched_layout

        if self.dim is None:
            implicit = 0 if len(in_shape) + 1 == 3 else 1
            if implicit == 0:
                raise fail(
                    f"without dim, torch picks dim 0 of the batched input "
                    f"{batched_layout(in_shape)}, the batch, and would normalise across "
                    f"samples; write dim (1 for the channels, -1 for the last dim)",
                    field="dim",
                )
            return in_shape
        if batched_dim(self.dim, in_shape, "dim") == 0:
            raise fail(
                f"dim={self.dim} is the batch dimension N of {batched_layout(in_shape)}: "
                f"{self.kind} would normalise across samples. Dims count the batch as in "
                f"torch: the first dim of a sample is 1",
                field="dim",
            )
        return in_shape


__getattr__ = leaves_on_demand(__name__, {
    "ReLU": Leaf(_InplaceActivation, doc="""
    ``max(0, x)``, exactly ``torch.nn.ReLU``. Shape and receptive field unchanged.

    Example: ``- ReLU``
    """),
    "ReLU6": Leaf(_InplaceActivation, doc="""
    ``min(max(0, x), 6)``, exactly ``torch.nn.ReLU6``. Shape and receptive field unchanged.

    Example: ``- ReLU6``
    """),
    "SiLU": Leaf(_InplaceActivation, doc="""
    ``x sigmoid(x)`` (swish), exactly ``torch.nn.SiLU``. Shape and receptive field unchanged.

    Example: ``- SiLU``
    """),
    "Mish": Leaf(_InplaceActivation, doc="""
    ``x tanh(softplus(x))``, exactly ``torch.nn.Mish``. Shape and receptive field unchanged.

    Example: ``- Mish``
    """),
    "Hardswish": Leaf(_InplaceActivation, doc="""
    ``x relu6(x + 3) / 6``, exactly ``torch.nn.Hardswish``. Shape and receptive field unchanged.

    Example: ``- Hardswish``
    """),
    "Hardsigmoid": Leaf(_InplaceActivation, doc="""
    ``relu6(x + 3) / 6``, exactly ``torch.nn.Hardsigmoid``. Shape and receptive field unchanged.

    Example: ``- Hardsigmoid``
    """),
    "Sigmoid": Leaf(Layer, is_activation=True, doc="""
    ``1 / (1 + exp(-x))``, exactly ``torch.nn.Sigmoid``. Shape and receptive field unchanged.

    Example: ``- Sigmoid``
    """),
    "Tanh": Leaf(Layer, is_activation=True, doc="""
    ``tanh(x)``, exactly ``torch.nn.Tanh``. Shape and receptive field unchanged.

    Example: ``- Tanh``
    """),
    "Identity": Leaf(Layer, doc="""
    Returns its input, exactly ``torch.nn.Identity``. Shape and receptive field unchanged.

    Example: ``- Identity`` (a placeholder, e.g. to name a point of the network)
    """),
    "Softmax": Leaf(_SoftmaxBase, doc="""
    ``exp(x) / sum(exp(x))`` along ``dim``, exactly ``torch.nn.Softmax``.

    Shape and receptive field unchanged.
    Example: ``- Softmax: {dim: 1}``
    """),
    "LogSoftmax": Leaf(_SoftmaxBase, doc="""
    ``log(softmax(x))`` along ``dim``, exactly ``torch.nn.LogSoftmax``.

    Shape and receptive field unchanged.
    Example: ``- LogSoftmax: {dim: -1}``
    """),
})
