"""Swin's kinds on channels-last maps ``[H, W, C]``: ``ShiftedWindowAttention`` and
``PatchMerging``, exactly as torchvision builds them (``torchvision.models.swin_transformer``).

MACs (``FlopCounterMode`` / 2): matrix products only. Windowed attention runs its projections
on every token of the map padded to whole windows (``Hp x Wp``) and its two products inside each
window of ``M = wh ww`` tokens::

    Q, K, V and output projections   4 Hp Wp C^2
    Q K^T and A V                    (Hp Wp / M) 2 M^2 C = 2 Hp Wp M C

The bias lookup, softmax, mask, roll and padding count 0. ``PatchMerging`` is a bias-free Linear
``4C -> 2C`` on every merged token: ``ceil(H/2) ceil(W/2) 8 C^2``.

Receptive field: all tokens of a window see the hull of the window's fields, so windowed
attention is not translation-equivariant. The field keeps netspec's ``(size, jump, start)`` per
axis plus a tiling (``AxisRF.tile``/``phase``: tiles of units sharing one field) and reports the
largest field (the closed form of the issue-13 notes):

- untiled axis: ``size + (w - 1) jump``, tiled ``(w, shift mod w)`` after;
- already tiled by the same windows: unchanged; by windows shifted against them: a window meets
  exactly two old tiles, ``size + w jump``; other tiles: ``size + (tiles touched - 1) tile jump``;
- one window covering the (padded) axis: the whole axis;
- ``jump`` and ``start`` stay those of the token grid (a tiled field is not centred on its
  unit: ``start`` is unit 0's position, which is what a residual sum aligns);
- a convolution or merge on a tiled axis takes the union of the tiles it can touch.

It is exact through Swin-T's first stage and first merge and an upper bound afterwards (fields
advance in steps of whole tiles; gradient checks in ``tests/layers/test_windows.py``). Masked
pairs count as unseen: torchvision masks with -100, not -inf, so a weight of about e^-100
remains between them (it keeps that mask, bit for bit).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from netspec.core.errors import fail
from netspec.core.shapes import AxisRF, Shape
from netspec.core.window import num
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
from netspec.layers.tokens import per_dim

__all__ = ["PatchMerging", "ShiftedWindowAttention", "windowed"]

MAP = "[H, W, C] (channels last)"


def _ceil(n: int, w: int) -> int:
    return -(-n // w)


def windowed(axis: AxisRF, n: int, window: int, shift: int) -> AxisRF:
    """The field of one axis of ``n`` units after attention in windows of ``window`` units
    whose boundaries sit at ``shift + m window`` (``shift`` the effective one)."""
    if not axis.positional:
        return axis
    if window >= _ceil(n, window) * window:
        return axis.whole(n)
    phase = shift % window
    if not axis.tile:
        grow = window - 1
    elif axis.tile == window:
        grow = 0 if phase == axis.phase else window
    else:
        grow = (axis.tiles_touched(window) - 1) * axis.tile
    return AxisRF(axis.size + grow * axis.jump, axis.jump, axis.start, tile=window, phase=phase)


def window_rule(axis: AxisRF, n: int, window: int, shift: int) -> str:
    """``windowed``'s arithmetic on one axis, numbers substituted."""
    out = windowed(axis, n, window, shift)
    r, j, got = num(axis.size), num(axis.jump), num(out.size)
    if not axis.positional:
        return f"{r} (already whole)"
    if window >= _ceil(n, window) * window:
        return f"{got}: one window covers the {n} units (whole)"
    if not axis.tile:
        return f"{r} + ({window}-1)*{j} = {got}"
    if axis.tile == window:
        if axis.phase == shift % window:
            return f"{r} (the same windows as before)"
        return f"{r} + {window}*{j} = {got} (windows shifted against the previous ones)"
    touched = axis.tiles_touched(window)
    return f"{r} + ({touched}-1)*{axis.tile}*{j} = {got} (tiles of {axis.tile} touched)"


def _columns(rf: RF, in_shape: Shape) -> int | None:
    """Sample dim of ``rf``'s first column: 0 channels-last (one column per dim), 1 when the
    field still reads the sample as ``[C, *spatial]``; None without a layout."""
    if per_dim(rf, in_shape):
        return 0
    return 1 if len(rf) == len(in_shape) - 1 else None


class _ChannelsLast(Layer):
    def check_map(self, in_shape: Shape) -> tuple[int, int, int]:
        expect_rank(self, in_shape, 3, MAP)
        return in_shape[0], in_shape[1], in_shape[2]


@register
class ShiftedWindowAttention(_ChannelsLast):
    """Swin's (shifted) window attention with a relative position bias, as torchvision's.

    Exactly torchvision's ``ShiftedWindowAttention`` on a channels-last map: pad H, W up to
    whole windows, roll by ``-shift_size``, attend inside each
    ``window_size`` window with a learned relative position bias per head (masked with -100
    between regions the roll brought together), roll back, crop.

    Where one window covers an axis padded to whole windows (Swin-T's 7 x 7 last stage), the
    shift there is 0, as torchvision clamps it; ``--explain`` shows the shift used.

    Shape: ``[H, W, C] -> [H, W, C]`` (``dim`` C inferred; ``num_heads`` must divide it).
    Receptive field: each token sees the hull of its window's fields (module notes: largest
    field, an upper bound after the first merge).
    Parameters: ``relative_position_bias_table [(2wh-1)(2ww-1), heads]``, ``qkv`` C -> 3C,
    ``proj`` C -> C: ``4 C^2 (+ 3C qkv_bias) (+ C proj_bias) + (2wh-1)(2ww-1) heads``.
    Buffers: ``relative_position_index [(wh ww)^2]`` (int64).
    MACs: ``Hp Wp (4 C^2 + 2 wh ww C)``, ``Hp = ceil(H/wh) wh``, ``Wp = ceil(W/ww) ww``.
    Example::

        - ShiftedWindowAttention: {window_size: 7, shift_size: 3, num_heads: 3}
    """

    kind = "ShiftedWindowAttention"
    inferred: ClassVar[tuple[str, ...]] = ("dim",)

    dim: PositiveInt | None = Field(
        default=None, description="Channels C. Inferred: the last dim of the input.")
    window_size: PerAxisPositive = Field(
        description="Window height and width (one int: square), torchvision's window_size.")
    shift_size: PerAxisNonNegative = Field(
        default=0, description="Shift of the windows per axis, each below the window; 0: "
        "plain windows. Default: 0")
    num_heads: PositiveInt = Field(description="Number of heads; must divide C.")
    qkv_bias: Bool = Field(default=True, description="Bias in qkv. Default: True")
    proj_bias: Bool = Field(default=True, description="Bias in proj. Default: True")
    attention_dropout: Float = Field(
        default=0.0, description="Dropout on the attention weights. Default: 0.0")
    dropout: Float = Field(default=0.0, description="Dropout after proj. Default: 0.0")

    @field_validator("window_size", "shift_size")
    @classmethod
    def _two_axes(cls, value: Any) -> Any:
        return check_axis_count(value, 2)

    @field_validator("attention_dropout", "dropout")
    @classmethod
    def _probability(cls, p: float) -> float:
        if not 0 <= p <= 1:
            raise ValueError(f"dropout must be between 0 and 1; received {p}")
        return p

    @model_validator(mode="after")
    def _shift_inside_window(self) -> ShiftedWindowAttention:
        for window, shift in zip(self.window(), self.shift(), strict=True):
            if shift >= window:
                raise ValueError(f"shift_size must be below window_size on each axis; received "
                                 f"shift_size={list(self.shift())}, window_size="
                                 f"{list(self.window())}")
        return self

    def window(self) -> tuple[int, int]:
        wh, ww = per_axis(self.window_size, 2)
        return wh, ww

    def shift(self) -> tuple[int, int]:
        sh, sw = per_axis(self.shift_size, 2)
        return sh, sw

    def padded(self, in_shape: Shape) -> tuple[int, int]:
        """``(Hp, Wp)``: the map padded up to whole windows."""
        (wh, ww), (h, w, _) = self.window(), self.check_map(in_shape)
        return _ceil(h, wh) * wh, _ceil(w, ww) * ww

    def effective_shift(self, in_shape: Shape) -> tuple[int, int]:
        """torchvision's: 0 on an axis where one window covers the padded map."""
        padded = self.padded(in_shape)
        return tuple(  # type: ignore[return-value]
            0 if window >= size else shift
            for window, shift, size in zip(self.window(), self.shift(), padded, strict=True))

    def check(self, in_shape: Shape) -> tuple[int, int, int]:
        h, w, c = self.check_map(in_shape)
        if c % self.num_heads:
            raise fail(f"the channels C = {c} (last dim of {list(in_shape)}) must be a multiple "
                       f"of num_heads={self.num_heads}", field="num_heads")
        return h, w, c

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        return self.check_asserted({"dim": self.check(in_shape)[2]}, in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        return in_shape

    def table_rows(self) -> int:
        wh, ww = self.window()
        return (2 * wh - 1) * (2 * ww - 1)

    def parameter_count(self, in_shape: Shape) -> int:
        c = in_shape[-1]
        bias = (3 * c if self.qkv_bias else 0) + (c if self.proj_bias else 0)
        return 4 * c * c + bias + self.table_rows() * self.num_heads

    def buffer_count(self, in_shape: Shape) -> int:
        wh, ww = self.window()
        return (wh * ww) ** 2

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        (hp, wp), (wh, ww), c = self.padded(in_shape), self.window(), in_shape[-1]
        return hp * wp * (4 * c * c + 2 * wh * ww * c)

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        first = _columns(rf, in_shape)
        if first is None:
            return rf
        window, shift = self.window(), self.effective_shift(in_shape)
        return tuple(
            windowed(axis, in_shape[dim], window[dim], shift[dim]) if dim < 2
            else axis.whole(in_shape[dim])
            for dim, axis in enumerate(rf, start=first)
        )

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        return TorchCall("ShiftedWindowAttention", {
            "dim": self.infer(in_shape)["dim"], "window_size": list(self.window()),
            "shift_size": list(self.shift()), "num_heads": self.num_heads,
            "qkv_bias": self.qkv_bias, "proj_bias": self.proj_bias,
            "attention_dropout": self.attention_dropout, "dropout": self.dropout})

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        (h, w, _), (hp, wp), (wh, ww) = self.check(in_shape), self.padded(in_shape), self.window()
        used, asked = self.effective_shift(in_shape), self.shift()
        lines = [f"padded to whole windows: Hp = ceil({h}/{wh})*{wh} = {hp}, "
                 f"Wp = ceil({w}/{ww})*{ww} = {wp}; {hp // wh * (wp // ww)} windows of "
                 f"{wh}x{ww} tokens",
                 f"shift used = {list(used)}"]
        if used != asked:
            lines[-1] += (f" (shift_size {list(asked)} clamped to 0 where one window covers the "
                          "padded map, as torchvision does)")
        return lines

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        (hp, wp), (wh, ww), c = self.padded(in_shape), self.window(), in_shape[-1]
        bias = (f" + 3*{c}" if self.qkv_bias else "") + (
            f" + {c}" if self.proj_bias else "")
        return [
            f"params = 4*{c}^2{bias} + {self.table_rows()}*{self.num_heads} (bias table) = "
            f"{self.parameter_count(in_shape)}",
            f"buffers = ({wh}*{ww})^2 = {self.buffer_count(in_shape)} (relative_position_index)",
            f"MACs = {hp}*{wp}*(4*{c}^2 (qkv, proj) + 2*{wh * ww}*{c} (QK^T, AV)) = "
            f"{self.macs(in_shape, out_shape)}",
        ]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        first = _columns(rf, in_shape)
        if first is None:
            return []
        window, shift = self.window(), self.effective_shift(in_shape)
        return [f"RF ({'HW'[dim]}) = {window_rule(axis, in_shape[dim], window[dim], shift[dim])}"
                f", jump = {num(axis.jump)}"
                for dim, axis in enumerate(rf, start=first) if dim < 2 and axis.positional]


@register
class PatchMerging(_ChannelsLast):
    """Swin's 2 x 2 patch merging: ``[H, W, C] -> [ceil(H/2), ceil(W/2), 2C]``, as torchvision's.

    Exactly torchvision's ``PatchMerging``: pad H, W to even,
    concatenate the four tokens of each 2 x 2 cell on C in the order (0,0), (1,0), (0,1), (1,1)
    (row, column), ``LayerNorm(4C)``, then ``Linear(4C, 2C, bias=False)``. As in torchvision
    ``reduction`` is registered before ``norm`` (state dict order), though it runs after.

    Shape: ``[H, W, C] -> [ceil(H/2), ceil(W/2), 2C]`` (``dim`` C inferred).
    Receptive field: a 2 x 2 window of stride 2 on H and W.
    Parameters: ``reduction`` ``8 C^2``, ``norm`` ``8 C``: ``8 C^2 + 8 C``.
    MACs: ``ceil(H/2) ceil(W/2) 8 C^2``.
    Example::

        - PatchMerging       # [56, 56, 96] -> [28, 28, 192]
    """

    kind = "PatchMerging"
    inferred: ClassVar[tuple[str, ...]] = ("dim",)

    dim: PositiveInt | None = Field(
        default=None, description="Channels C. Inferred: the last dim of the input.")
    eps: Float = Field(default=1e-5, gt=0, description="The norm's eps. Default: 1e-5")

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        return self.check_asserted({"dim": self.check_map(in_shape)[2]}, in_shape)

    def output_shape(self, in_shape: Shape) -> Shape:
        h, w, c = self.check_map(in_shape)
        self.infer(in_shape)
        return (_ceil(h, 2), _ceil(w, 2), 2 * c)

    def parameter_count(self, in_shape: Shape) -> int:
        c = in_shape[-1]
        return 8 * c * c + 8 * c

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return out_shape[0] * out_shape[1] * 8 * in_shape[-1] ** 2

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        first = _columns(rf, in_shape)
        if first is None:
            return rf
        return tuple(axis.through_window(2, 2, 0, 1) if dim < 2 else axis
                     for dim, axis in enumerate(rf, start=first))

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        h, w, c = in_shape
        return [f"out = [ceil({h}/2), ceil({w}/2), 2*{c}] = {list(out_shape)}"]

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        c = in_shape[-1]
        return [f"params = 8*{c}^2 (reduction) + 8*{c} (norm) = "
                f"{self.parameter_count(in_shape)}",
                f"MACs = {out_shape[0]}*{out_shape[1]}*8*{c}^2 = "
                f"{self.macs(in_shape, out_shape)}"]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        """A 2x2 window of stride 2 on H and W; on a tiled axis the tiles it can touch."""
        first = _columns(rf, in_shape)
        if first is None:
            return []
        lines = []
        for dim, axis in enumerate(rf, start=first):
            if dim >= 2 or not axis.positional:
                continue
            out = axis.through_window(2, 2, 0, 1)
            r, j = num(axis.size), num(axis.jump)
            grow = (f"({axis.tiles_touched(2)}-1)*{axis.tile}*{j}" if axis.tile
                    else f"(2-1)*{j}")
            lines.append(f"RF ({'HW'[dim]}) = {r} + {grow} = {num(out.size)}, jump = {j}*2 = "
                         f"{num(out.jump)}")
        return lines
