"""Swin's kinds on channels-last maps ``[H, W, C]`` (after ``Permute: {dims: [1, 2, 0]}``):
``ShiftedWindowAttention`` and ``PatchMerging``, as torchvision's Swin builds them.

Receptive field (``AxisRF`` with a tiling): windowed attention gives every unit of a window
the hull of the window's fields, so units come in tiles of ``w`` sharing one field. Per axis
of ``n`` units (``n_p = ceil(n / w) w``; a window covering ``n_p`` sees the axis whole and is
not shifted), with ``j`` the jump and ``r`` the field before:

- an untiled axis: ``r + (w - 1) j``, tiles of ``w`` starting at ``shift mod w``;
- tiles of period ``T``: the most old tiles one new window meets, ``r + (met - 1) T j``
  (tiles of ``w`` at the same phase: unchanged; at another phase, the shifted block after the
  plain one: two tiles, ``r + w j``);
- a merge (2 x 2, stride 2) or any window on tiles: the hull of the most tiles one of its
  windows meets (``AxisRF.through_window``), then untiled.

This is exact for the first windowed stage and the first merge (measured by gradients in the
tests) away from the map's edge, where tiles reach past the map as a convolution's window
reaches into padding, and counted so; after that it is an estimate: the merged units are treated
as evenly spaced fields centred on themselves again, though only some of them meet two tiles.
``start`` stays the unit's own centre, so the residual around each block merges aligned fields.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from netspec.core.errors import fail
from netspec.core.shapes import CHANNEL_AXIS, AxisRF, Shape, tiles_met
from netspec.layers.base import RF, Layer, ShapeAfter, TorchCall, expect_rank
from netspec.layers.fields import (
    Bool,
    Float,
    PerAxisNonNegative,
    PerAxisPositive,
    PositiveInt,
    check_axis_count,
    per_axis,
)
from netspec.layers.registry import register

__all__ = ["PatchMerging", "ShiftedWindowAttention"]

MAP = "[H, W, C] (channels last)"


def _located(rf: RF, in_shape: Shape) -> bool:
    """One column per dim, the channel marker last: ``[H, W, C]`` after a Permute."""
    return len(rf) == len(in_shape) == 3 and rf[2] == CHANNEL_AXIS


def windowed(axis: AxisRF, units: int, window: int, shift: int) -> AxisRF:
    """The field after windowed attention along one axis (module notes)."""
    if not axis.positional:
        return axis
    padded = -(-units // window) * window
    if window >= padded:
        return axis.whole(units)
    phase = shift % window
    if not axis.period:
        grown = (window - 1) * axis.jump
    else:  # the new windows start at phase - window + m window
        met = tiles_met(window, phase - window, window, axis.period, axis.phase)
        grown = (met - 1) * axis.period * axis.jump
    return AxisRF(axis.size + grown, axis.jump, axis.start, period=window, phase=phase)


@register
class ShiftedWindowAttention(Layer):
    """Swin's window attention (W-MSA, or SW-MSA with ``shift_size``), exactly
    ``torchvision.models.swin_transformer.ShiftedWindowAttention`` on ``[H, W, C]``: H and W
    padded up to multiples of the window, rolled by ``-shift`` (no shift on an axis one window
    covers), attention inside each ``wh x ww`` window with a learned bias per head and relative
    offset (regions of a shifted window masked with -100), rolled back and cropped.

    Shape: unchanged, ``[H, W, C]``; ``num_heads`` must divide C.
    Receptive field: the window's tiles (module notes).
    Parameters: ``qkv`` ``3C^2 (+ 3C)``, ``proj`` ``C^2 (+ C)``, the bias table
    ``(2 wh - 1)(2 ww - 1) heads``. Buffers: ``relative_position_index`` ``(wh ww)^2`` (int64).
    MACs (``M = wh ww``, ``Hp Wp`` the padded map): ``Hp Wp (4 C^2 + 2 M C)``.
    Example::

        - ShiftedWindowAttention: {window_size: 7, shift_size: 3, num_heads: 3}
    """

    kind = "ShiftedWindowAttention"
    inferred: ClassVar[tuple[str, ...]] = ("dim",)

    dim: PositiveInt | None = Field(default=None, description="Channels C. Inferred.")
    window_size: PerAxisPositive = Field(description="Window (wh, ww), or one int for both.")
    shift_size: PerAxisNonNegative = Field(
        default=0, description="Shift (sh, sw), 0 for plain windows; below the window.")
    num_heads: PositiveInt = Field(description="Heads; must divide C.")
    qkv_bias: Bool = Field(default=True, description="Bias of the qkv projection.")
    proj_bias: Bool = Field(default=True, description="Bias of the output projection.")
    attention_dropout: Float = Field(default=0.0, description="Dropout on attention weights.")
    dropout: Float = Field(default=0.0, description="Dropout after the projection.")

    @field_validator("window_size", "shift_size")
    @classmethod
    def _two_axes(cls, value: Any) -> Any:
        return check_axis_count(value, 2)

    def sizes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        (wh, ww), (sh, sw) = per_axis(self.window_size, 2), per_axis(self.shift_size, 2)
        if sh >= wh or sw >= ww:
            raise fail(f"shift_size must be below window_size on each axis; received "
                       f"shift_size={[sh, sw]}, window_size={[wh, ww]}", field="shift_size")
        return (wh, ww), (sh, sw)

    def check(self, in_shape: Shape) -> tuple[int, int, int]:
        expect_rank(self, in_shape, 3, MAP)
        height, width, channels = in_shape
        if channels % self.num_heads:
            raise fail(f"the channels C = {channels} (last dim of {list(in_shape)}) must be a "
                       f"multiple of num_heads={self.num_heads}", field="num_heads")
        self.sizes()
        return height, width, channels

    def padded(self, in_shape: Shape) -> tuple[int, int]:
        (wh, ww), _ = self.sizes()
        return -(-in_shape[0] // wh) * wh, -(-in_shape[1] // ww) * ww

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        return self.check_asserted({"dim": self.check(in_shape)[2]}, in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)  # checks the shape and a written dim
        return in_shape

    def parameter_count(self, in_shape: Shape) -> int:
        c = in_shape[-1]
        (wh, ww), _ = self.sizes()
        return (4 * c * c + (3 * c if self.qkv_bias else 0) + (c if self.proj_bias else 0)
                + (2 * wh - 1) * (2 * ww - 1) * self.num_heads)

    def buffer_count(self, in_shape: Shape) -> int:
        (wh, ww), _ = self.sizes()
        return (wh * ww) ** 2

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        _, _, c = self.check(in_shape)
        (wh, ww), _ = self.sizes()
        hp, wp = self.padded(in_shape)
        return hp * wp * (4 * c * c + 2 * wh * ww * c)

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        if not _located(rf, in_shape):
            return rf
        windows, shifts = self.sizes()
        return (*(windowed(rf[axis], in_shape[axis], windows[axis], shifts[axis])
                  for axis in (0, 1)), rf[2])

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        windows, shifts = self.sizes()
        return TorchCall("ShiftedWindowAttention", {
            "dim": self.check(in_shape)[2], "window_size": list(windows),
            "shift_size": list(shifts), "num_heads": self.num_heads,
            "qkv_bias": self.qkv_bias, "proj_bias": self.proj_bias,
            "attention_dropout": self.attention_dropout, "dropout": self.dropout})

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        _, _, c = self.check(in_shape)
        (wh, ww), _ = self.sizes()
        hp, wp = self.padded(in_shape)
        return [
            f"padded map {hp}x{wp}, windows of {wh}x{ww} = {wh * ww} tokens",
            f"params = 4*{c}^2 + biases + (2*{wh}-1)*(2*{ww}-1)*{self.num_heads} = "
            f"{self.parameter_count(in_shape)}; buffers = ({wh}*{ww})^2 = "
            f"{self.buffer_count(in_shape)}",
            f"MACs = {hp}*{wp}*(4*{c}^2 + 2*{wh * ww}*{c}) = {self.macs(in_shape, out_shape)}",
        ]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        if not _located(rf, in_shape):
            return []
        after = self.receptive_field(rf, in_shape)
        return [f"RF_{name} = {rf[a].size} -> {after[a].size} (windows of {after[a].period} "
                f"units share one field)" for a, name in ((0, "H"), (1, "W"))
                if after[a].positional]


@register
class PatchMerging(Layer):
    """Swin's patch merging, exactly torchvision's ``PatchMerging`` on ``[H, W, C]``: H and W
    padded to even, each 2 x 2 cell's four pixels concatenated (rows first: (0,0), (1,0),
    (0,1), (1,1)), ``LayerNorm(4C)``, ``Linear(4C, 2C, bias=False)`` (``reduction``,
    registered first).

    Shape: ``[H, W, C] -> [ceil(H/2), ceil(W/2), 2C]``.
    Receptive field: a 2 x 2 window of stride 2 on each axis.
    Parameters: ``8 C^2`` (reduction) ``+ 8 C`` (norm). MACs: ``ceil(H/2) ceil(W/2) 8 C^2``.
    Example::

        - PatchMerging
    """

    kind = "PatchMerging"
    inferred: ClassVar[tuple[str, ...]] = ("dim",)

    dim: PositiveInt | None = Field(default=None, description="Channels C. Inferred.")
    eps: Float = Field(default=1e-5, description="The norm's eps. Default: 1e-5")

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        expect_rank(self, in_shape, 3, MAP)
        return self.check_asserted({"dim": in_shape[2]}, in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        return (-(-in_shape[0] // 2), -(-in_shape[1] // 2), 2 * in_shape[2])

    def parameter_count(self, in_shape: Shape) -> int:
        c = in_shape[-1]
        return 8 * c * c + 8 * c

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return out_shape[0] * out_shape[1] * 8 * in_shape[2] ** 2

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        if not _located(rf, in_shape):
            return rf
        return (rf[0].through_window(2, 2, 0, 1), rf[1].through_window(2, 2, 0, 1), rf[2])

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        if not _located(rf, in_shape):
            return []
        after = self.receptive_field(rf, in_shape)
        lines = []
        for axis, name in ((0, "H"), (1, "W")):
            if not rf[axis].positional:
                continue
            tiles = f"; tiles of {rf[axis].period} share a field" if rf[axis].period else ""
            lines.append(f"RF_{name} = {rf[axis].size} -> {after[axis].size}, jump = "
                         f"{after[axis].jump} (2 units a window{tiles})")
        return lines

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        c = in_shape[2]
        return [f"params = 8*{c}^2 + 8*{c} = {self.parameter_count(in_shape)}",
                f"MACs = {out_shape[0]}*{out_shape[1]}*8*{c}^2 = "
                f"{self.macs(in_shape, out_shape)}"]

