"""What modern residual branches end with: ``LayerScale`` (a learnable per-channel scale,
ConvNeXt) and ``StochasticDepth`` (dropping the whole branch of a sample at random,
EfficientNet and ConvNeXt, with ``torchvision.ops.StochasticDepth``'s semantics).

Both keep the shape and the receptive field (they act per value) and count no MACs (an
elementwise product is not a matrix product).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from netspec.core.errors import fail
from netspec.core.shapes import Shape
from netspec.layers.base import Layer, ShapeAfter, TorchCall
from netspec.layers.fields import Float, Probability
from netspec.layers.registry import register

__all__ = ["LayerScale", "StochasticDepth"]


@register
class LayerScale(Layer):
    """A learnable scale per channel, ``x * scale`` (ConvNeXt's layer scale).

    ``scale`` is a parameter of shape ``[C, 1, ..., 1]`` (one value per channel, ``C`` = dim 0
    of the sample, broadcast over the other dims) filled with ``init_value``: ``[C, 1, 1]`` on
    ``[C, H, W]``, starting at 1e-6 in ConvNeXt.

    Shape: unchanged. Receptive field: unchanged.
    Parameters: ``C`` (the parameter is named ``scale``). Buffers: none. MACs: 0 (elementwise).
    Example::

        - LayerScale: {init_value: 1.0e-6}
    """

    kind = "LayerScale"

    init_value: Float = Field(
        default=1e-6, description="The value every scale starts at. Default: 1e-6"
    )

    def scale_shape(self, in_shape: Shape) -> Shape:
        """``[C, 1, ..., 1]``: one value per channel, as many dims as the sample."""
        if not in_shape:
            raise fail("LayerScale needs a sample with a channel dim; received []")
        return (in_shape[0], *(1 for _ in in_shape[1:]))

    def output_shape(self, in_shape: Shape) -> Shape:
        self.scale_shape(in_shape)
        return in_shape

    def parameter_count(self, in_shape: Shape) -> int:
        return in_shape[0]

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return 0

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        """``netspec.torch_side.modules.LayerScale`` with the scale's shape."""
        return TorchCall("LayerScale", {
            "shape": list(self.scale_shape(in_shape)), "init_value": self.init_value})

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``params = 96 (scale [96, 1, 1]); MACs = 0 (elementwise)``."""
        return [f"params = {in_shape[0]} (scale {list(self.scale_shape(in_shape))}); "
                "MACs = 0 (elementwise)"]


@register
class StochasticDepth(Layer):
    """Stochastic depth (Huang et al. 2016), exactly ``torchvision.ops.StochasticDepth``.

    No torchvision needed. In training each sample (``mode: row``) or the whole
    batch (``mode: batch``) is zeroed with probability ``p``, and what is kept is divided by
    ``1 - p`` (not when ``p`` is 1: then all is zero); in eval, and when ``p`` is 0, the
    identity. Put it at the end of a residual branch to drop the branch.

    Shape: unchanged. Receptive field: unchanged.
    Parameters, buffers, MACs: none.
    Example::

        - Residual:
            shortcut: identity
            body: [..., {StochasticDepth: {p: 0.2, mode: row}}]
    """

    kind = "StochasticDepth"
    is_dropout = True
    drops_branch = True

    p: Probability = Field(description="Probability of zeroing a sample (row) or the batch.")
    mode: Literal["row", "batch"] = Field(
        description="row: one draw per sample; batch: one draw for the whole batch."
    )

    @field_validator("p")
    @classmethod
    def _p_is_probability(cls, p: float) -> float:
        if not 0 <= p <= 1:
            raise ValueError(f"drop probability p must be between 0 and 1; received p={p}")
        return p

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        if self.p in (0, 1):
            kept = "identity" if self.p == 0 else "all zero"
            return [f"training: {kept}; eval: identity"]
        return [f"training: each {'sample' if self.mode == 'row' else 'batch'} kept with "
                f"probability 1 - {self.p:g} = {1 - self.p:g} and scaled by 1/{1 - self.p:g}; "
                "eval: identity"]
