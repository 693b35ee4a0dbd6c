"""MaxViT's kinds: ``Partition`` (a composite: its layers run on the groups of tokens of a
window or grid partition of a ``[C, H, W]`` map) and ``RelativePositionalMultiHeadAttention``
(attention inside each group with a relative position bias), as torchvision's MaxViT.

Receptive field: inside a partition the rows have no located field (``--``); the partition's
own row gives it. Window of ``P``: the units of each ``P x P`` tile share the tile's hull (the
tiled field of ``netspec.layers.windows``); grid of ``P`` on ``n`` units: a unit reads the
``P`` units ``n / P`` apart, a span of ``n - n/P + 1`` units: ``r + (n - n/P) j``; on tiles
(a grid after a window), the hull of the tiles its first and last unit lie in.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import Field

from netspec.core.errors import SpecPath, fail
from netspec.core.shapes import AxisRF, Shape
from netspec.layers.base import (
    RF,
    Layer,
    LayerReport,
    Nested,
    ShapeAfter,
    TorchCall,
    expect_rank,
)
from netspec.layers.composite import Composite, walk_field
from netspec.layers.fields import PositiveInt
from netspec.layers.registry import AnyLayer, register
from netspec.layers.windows import windowed

__all__ = ["Partition", "RelativePositionalMultiHeadAttention"]


@register
class Partition(Composite):
    """``layers`` on the groups of a ``[C, H, W]`` map, exactly torchvision's MaxViT partition:
    ``window``: the ``P x P`` tiles, tokens row-major; ``grid``: the ``P x P`` points ``H/P``
    apart (a dilated grid over the map), one group per offset. The layers see
    ``[H W / P^2, P^2, C]`` and must keep that shape; the result is put back to ``[C, H, W]``.

    Shape: unchanged; H and W must be multiples of ``partition_size``.
    Parameters, buffers, MACs: its layers'.
    Example::

        - Partition:
            partition_type: window
            partition_size: 7
            layers: [LayerNorm, {RelativePositionalMultiHeadAttention: {head_dim: 32}}]
    """

    kind = "Partition"
    required_lists: ClassVar[tuple[str, ...]] = ("layers",)

    partition_type: Literal["window", "grid"] = Field(
        description="window: P x P tiles; grid: P x P points H/P apart.")
    partition_size: PositiveInt = Field(description="P: tokens per group are P^2.")
    layers: tuple[AnyLayer, ...] = Field(description="Layers on [G, P^2, C] groups.")

    def groups(self, in_shape: Shape) -> Shape:
        expect_rank(self, in_shape, 3, "[C, H, W]")
        channels, height, width = in_shape
        size = self.partition_size
        if height % size or width % size:
            raise fail(f"H and W ({height}, {width}) must be multiples of partition_size="
                       f"{size}", field="partition_size")
        return (height * width // (size * size), size * size, channels)

    def children_rows(
        self, in_shape: Shape, rf: RF, path: SpecPath, depth: int
    ) -> tuple[list[LayerReport], Shape, RF]:
        inner = self.groups(in_shape)
        rows, out, _ = walk_field(self.layers, ("layers",), inner, (), path, depth)
        if out != inner:
            raise fail(f"the layers of a Partition must keep the groups' shape {list(inner)}; "
                       f"they give {list(out)}", field="layers")
        return rows, in_shape, self.field(rf, in_shape)

    def field(self, rf: RF, in_shape: Shape) -> RF:
        if len(rf) != 2:
            return rf
        size = self.partition_size
        if self.partition_type == "window":
            return tuple(windowed(axis, n, size, 0) for axis, n in zip(rf, in_shape[1:],
                                                                        strict=True))
        return tuple(_grid(axis, n, size) for axis, n in zip(rf, in_shape[1:], strict=True))

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        return TorchCall("Partition", {
            "layers": Nested(self.layers, self.groups(in_shape)),
            "partition_type": self.partition_type, "partition_size": self.partition_size})

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        g, s, c = self.groups(in_shape)
        return [f"groups: {in_shape[1]}*{in_shape[2]}/{self.partition_size}^2 = {g} of {s} "
                f"tokens ({self.partition_type}): [{g}, {s}, {c}], back to {list(out_shape)}"]


def _grid(axis: AxisRF, units: int, size: int) -> AxisRF:
    """A grid group spans ``units - units/size + 1`` units of the axis."""
    if not axis.positional:
        return axis
    if size >= units:
        return axis.whole(units)
    step = units // size
    span = units - step
    grown = axis.size + span * axis.jump
    if axis.period:  # tiles: the hull of the tiles of the group's first and last unit
        crossed = max((first + span - axis.phase) // axis.period
                      - (first - axis.phase) // axis.period
                      for first in range(min(step, axis.period)))  # periodic in first
        grown = axis.size + crossed * axis.period * axis.jump
    return AxisRF(grown, axis.jump, axis.start)


@register
class RelativePositionalMultiHeadAttention(Layer):
    """Attention inside each group of tokens with a learned bias per head and relative offset,
    exactly torchvision's MaxViT ``RelativePositionalMultiHeadAttention`` on ``[G, S, D]``
    (``S = P^2`` tokens of a P x P window or grid; keys scaled by ``D ** -0.5``).

    Shape: unchanged; S a square, ``head_dim`` dividing D.
    Parameters: ``to_qkv`` ``3D^2 + 3D``, ``merge`` ``D^2 + D``, the table
    ``(2P - 1)^2 D / head_dim``. Buffers: the index ``S^2`` (int64).
    MACs: ``4 G S D^2 + 2 G S^2 D``.
    Example::

        - RelativePositionalMultiHeadAttention: {head_dim: 32}
    """

    kind = "RelativePositionalMultiHeadAttention"
    inferred: ClassVar[tuple[str, ...]] = ("feat_dim", "max_seq_len")

    feat_dim: PositiveInt | None = Field(default=None, description="D. Inferred.")
    head_dim: PositiveInt = Field(description="Features per head; must divide D.")
    max_seq_len: PositiveInt | None = Field(default=None, description="S. Inferred.")

    def check(self, in_shape: Shape) -> tuple[int, int, int, int]:
        expect_rank(self, in_shape, 3, "[G, S, D] (groups of S tokens)")
        groups, tokens, dim = in_shape
        side = math.isqrt(tokens)
        if side * side != tokens:
            raise fail(f"the tokens of a group, {tokens}, must be a square P^2 (a P x P "
                       f"window or grid)")
        if dim % self.head_dim:
            raise fail(f"head_dim={self.head_dim} must divide the features D = {dim}",
                       field="head_dim")
        return groups, tokens, dim, side

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        _, tokens, dim, _ = self.check(in_shape)
        return self.check_asserted({"feat_dim": dim, "max_seq_len": tokens}, in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        return in_shape

    def parameter_count(self, in_shape: Shape) -> int:
        _, _, dim, side = self.check(in_shape)
        return 4 * dim * dim + 4 * dim + (2 * side - 1) ** 2 * (dim // self.head_dim)

    def buffer_count(self, in_shape: Shape) -> int:
        return in_shape[1] ** 2

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        groups, tokens, dim, _ = self.check(in_shape)
        return groups * (4 * tokens * dim * dim + 2 * tokens * tokens * dim)

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        groups, tokens, dim, side = self.check(in_shape)
        heads = dim // self.head_dim
        return [f"params = 4*{dim}^2 + 4*{dim} + (2*{side}-1)^2*{heads} = "
                f"{self.parameter_count(in_shape)}; buffers = {tokens}^2",
                f"MACs = {groups}*(4*{tokens}*{dim}^2 + 2*{tokens}^2*{dim}) = "
                f"{self.macs(in_shape, out_shape)}"]
