"""MaxViT's kinds (``torchvision.models.maxvit``): ``Partition``, a composite that hands its
layers the groups of tokens of a ``[C, H, W]`` map (block "window" tiles or a dilated "grid")
and puts the map back, and ``RelativePositionalMultiHeadAttention``, attention inside each group
with a learned relative position bias.

MACs (``FlopCounterMode`` / 2): attention on ``G`` groups of ``S`` tokens of ``D`` features is
``4 G S D^2`` (``to_qkv`` and ``merge``) plus ``2 G S^2 D`` (the two products); the partition
itself moves values only (0).

Receptive field, per axis of ``n`` units cut into ``P``-unit groups (when the layers inside mix
the tokens of a group, as attention does; per-token layers alone leave the field as it is):

- window (block) ``P``: groups are runs of ``P`` units, Swin's rule with no shift
  (``netspec.layers.windows.windowed``): ``r + (P - 1) j`` on an untiled axis;
- grid ``P``: a group is ``P`` units ``n / P`` apart, its hull ``n - n/P + 1`` units:
  ``r + (n - n/P) j`` untiled, ``r + (tiles touched - 1) tile j`` on a tiled axis; neighbouring
  units then belong to groups whose hulls lie apart, so the axis is marked as one tile
  (``AxisRF.period = n``): a later layer that mixes neighbours counts the whole axis (an upper
  bound).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, ClassVar, Literal

from pydantic import Field

from netspec.core.errors import SpecPath, fail
from netspec.core.shapes import CHANNEL_AXIS, AxisRF, Shape, tiles_met
from netspec.layers.base import RF, Layer, LayerReport, Nested, ShapeAfter, TorchCall, expect_rank
from netspec.layers.composite import Composite, walk_field
from netspec.layers.fields import PositiveInt
from netspec.layers.registry import AnyLayer, register
from netspec.layers.tokens import mix_tokens
from netspec.layers.windows import windowed

__all__ = ["Partition", "RelativePositionalMultiHeadAttention", "gridded"]

GROUPS = "[G, S, D] (G groups of S tokens of D features)"


def gridded(axis: AxisRF, n: int, size: int) -> AxisRF:
    """The field of one axis of ``n`` units after attention among ``size`` units ``n / size``
    apart (MaxViT's grid), as the module notes say."""
    if not axis.positional or size == 1:
        return axis
    stride = n // size
    span = n - stride + 1
    if stride == 1:
        return axis.whole(n)
    if axis.period:  # the hull of the tiles a run of span units can meet
        grow = (tiles_met(span, 0, 1, axis.period, axis.phase) - 1) * axis.period
    else:
        grow = span - 1
    return AxisRF(axis.size + grow * axis.jump, axis.jump, axis.start, period=n)


@register
class Partition(Composite):
    """MaxViT's partition: ``layers`` applied to the groups of tokens of a ``[C, H, W]`` map.

    torchvision's MaxViT partition around ``layers``: ``[C, H, W]`` cut into ``G = H W / P^2``
    groups of ``S = P^2`` tokens, ``layers`` applied to ``[G, S, C]``, the map put back.

    ``partition_type: window``: the ``P x P`` tiles (row-major), tokens row-major inside (block
    attention). ``grid``: the ``P x P`` points ``H/P`` apart (a dilated grid spanning the map),
    one group per offset inside an ``H/P x W/P`` cell (torchvision's window partition of size
    ``H/P`` followed by its axis swap).

    Shape: ``[C, H, W] -> [C, H, W]``; H and W multiples of P; ``layers`` keep ``[G, S, C]``.
    Receptive field: the groups' hull when ``layers`` mix tokens (module notes).
    Parameters, buffers, MACs: those of ``layers``.
    Example (MaxViT's block attention on 64 channels)::

        - Partition:
            partition_type: window
            partition_size: 7
            layers:
              - LayerNorm
              - RelativePositionalMultiHeadAttention: {head_dim: 32}
    """

    kind = "Partition"
    required_lists = ("layers",)
    partition_type: Literal["window", "grid"] = Field(
        description="window: P x P tiles (block attention); grid: a P x P grid spanning the map.")
    partition_size: PositiveInt = Field(description="P: groups hold P x P tokens.")
    layers: tuple[AnyLayer, ...] = Field(description="Layers applied to the [G, P*P, C] groups.")

    def groups(self, in_shape: Shape) -> Shape:
        expect_rank(self, in_shape, 3, "[C, H, W]")
        c, h, w = in_shape
        p = self.partition_size
        if h % p or w % p:
            raise fail(f"H and W of {list(in_shape)} must be multiples of partition_size={p} "
                       "(torchvision's MaxViT needs every stage's map divisible by it)",
                       field="partition_size")
        return (h * w // (p * p), p * p, c)

    def children_rows(
        self, in_shape: Shape, rf: RF, path: SpecPath, depth: int
    ) -> tuple[list[LayerReport], Shape, RF]:
        inner = self.groups(in_shape)
        # one column per inner dim: whether the layers mix the tokens shows in the token column
        probe: RF = (AxisRF(), AxisRF(), CHANNEL_AXIS)
        rows, out_shape, out_probe = walk_field(self.layers, ("layers",), inner, probe, path,
                                                depth)
        if out_shape != inner:
            raise fail(f"the layers inside a Partition must keep its groups {list(inner)} "
                       f"(their output goes back into the map); they give {list(out_shape)}",
                       field="layers")
        mixed = out_probe[1] != AxisRF()
        out_rf = self.grouped(rf, in_shape) if mixed else rf
        shown = [replace(row, rf=out_rf if row.rf[1:2] != (AxisRF(),) else rf, in_rf=rf)
                 for row in rows]
        return shown, in_shape, out_rf

    def grouped(self, rf: RF, in_shape: Shape) -> RF:
        """The field after attention inside each group, per spatial axis."""
        if len(rf) != 2:
            return rf
        p = self.partition_size
        if self.partition_type == "window":
            return tuple(windowed(axis, n, p, 0) for axis, n in zip(rf, in_shape[1:], strict=True))
        return tuple(gridded(axis, n, p) for axis, n in zip(rf, in_shape[1:], strict=True))

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        g, s, c = self.groups(in_shape)
        p = self.partition_size
        return [f"groups: {in_shape[1]}*{in_shape[2]}/{p}^2 = {g} of {p}^2 = {s} tokens "
                f"({self.partition_type}), the layers see [{g}, {s}, {c}]; out = {list(in_shape)}"]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        p = self.partition_size
        if self.partition_type == "window":
            rule = f"runs of {p} units: r + ({p}-1)*j"
        else:
            rule = f"{p} units n/{p} apart: r + (n - n/{p})*j, then tiled by the whole axis"
        return [f"RF (layers that mix tokens): each unit sees the hull of its group, {rule}"]

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        return TorchCall("Partition", {
            "layers": Nested(self.layers, self.groups(in_shape)),
            "partition_type": self.partition_type, "partition_size": self.partition_size})


@register
class RelativePositionalMultiHeadAttention(Layer):
    """MaxViT's attention inside groups of tokens, with a relative position bias.

    Exactly torchvision's ``RelativePositionalMultiHeadAttention(feat_dim, head_dim,
    max_seq_len)`` on ``[G, S, D]``:
    ``softmax(Q (K D^-0.5)^T + bias) V`` per head (keys scaled by the whole width, as
    torchvision), heads of ``head_dim`` features, the bias looked up by relative offset on the
    ``sqrt(S) x sqrt(S)`` group.

    Shape: ``[G, S, D] -> [G, S, D]``; S a square ``P^2``; ``head_dim`` divides D.
    Receptive field: every token sees its group: within a ``Partition``, the group's hull.
    Parameters: ``to_qkv`` ``3D^2 + 3D``, ``merge`` ``D^2 + D``, ``relative_position_bias_table
    [(2P-1)^2, D / head_dim]``. Buffers: ``relative_position_index [S, S]`` (int64).
    MACs: ``4 G S D^2 + 2 G S^2 D``.
    Example::

        - RelativePositionalMultiHeadAttention: {head_dim: 32}
    """

    kind = "RelativePositionalMultiHeadAttention"
    inferred: ClassVar[tuple[str, ...]] = ("feat_dim", "max_seq_len")

    feat_dim: PositiveInt | None = Field(
        default=None, description="Features D. Inferred: the last dim of the input.")
    head_dim: PositiveInt = Field(description="Features per head; must divide D.")
    max_seq_len: PositiveInt | None = Field(
        default=None, description="Tokens S of a group (a square). Inferred: dim 1 of the input.")

    def check(self, in_shape: Shape) -> tuple[int, int, int, int]:
        """``(G, S, D, P)``."""
        expect_rank(self, in_shape, 3, GROUPS)
        g, s, d = in_shape
        side = math.isqrt(s)
        if side * side != s:
            raise fail(f"the tokens of a group, S = {s} (dim 1 of {list(in_shape)}), must be a "
                       "square P*P (the bias is indexed on a P x P group)")
        if d % self.head_dim:
            raise fail(f"the features D = {d} (last dim of {list(in_shape)}) must be a multiple "
                       f"of head_dim={self.head_dim}", field="head_dim")
        return g, s, d, side

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        _, s, d, _ = self.check(in_shape)
        return self.check_asserted({"feat_dim": d, "max_seq_len": s}, in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        return in_shape

    def parameter_count(self, in_shape: Shape) -> int:
        _, _, d, side = self.check(in_shape)
        return 4 * d * d + 4 * d + (2 * side - 1) ** 2 * (d // self.head_dim)

    def buffer_count(self, in_shape: Shape) -> int:
        return in_shape[1] ** 2

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        g, s, d, _ = self.check(in_shape)
        return 4 * g * s * d * d + 2 * g * s * s * d

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        return mix_tokens(rf, in_shape, (1, 2))

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        g, s, d, side = self.check(in_shape)
        heads = d // self.head_dim
        return [
            f"heads = {d}/{self.head_dim} = {heads}",
            f"params = 4*{d}^2 + 4*{d} + (2*{side}-1)^2*{heads} (bias table) = "
            f"{self.parameter_count(in_shape)}",
            f"buffers = {s}^2 = {s * s} (relative_position_index)",
            f"MACs = 4*{g}*{s}*{d}^2 (to_qkv, merge) + 2*{g}*{s}^2*{d} (QK^T, AV) = "
            f"{self.macs(in_shape, out_shape)}",
        ]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        return ["RF: every token reads its group (inside a Partition: the group's hull)"]
