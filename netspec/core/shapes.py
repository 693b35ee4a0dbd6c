"""Pure size and receptive-field formulas shared by every rank. No torch here.

Sizes follow torch's own arithmetic exactly (``torch/nn/modules/conv.py``, ``pooling.py`` and
ATen's ``pooling_output_shape``). Receptive fields follow the usual recurrence per spatial axis,
measured in input pixels::

    k_eff     = d (k - 1) + 1
    r_out     = r_in + (k_eff - 1) j_in
    j_out     = j_in s
    start_out = start_in + ((k_eff - 1) / 2 - p) j_in

``start`` is the centre of the first output unit's window in input coordinates (it can be a
half pixel, or negative when padding reaches past the border). Jumps and starts are exact
fractions because transposed convolutions and upsampling divide the jump.

The arithmetic stays small: no input axis is longer than 2^48 (``MAX_VALUES``), so a size, jump
or start past ``RF_BOUND`` is stored as ``BEYOND`` (shown as ``>2^48``: a field that covers any
input whole), and a fraction finer than 2^-48 is rounded to that precision. Without this, a
stride of 2^48 repeated 300 times makes a 14,400-digit jump, and 100,000 such layers gigabytes.
A jump beyond the bound stays beyond it, even after a later layer divides it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

Shape = tuple[int, ...]

RF_BOUND = 2**48
BEYOND = Fraction(RF_BOUND + 1)
"""Any receptive-field size, jump or start past ``RF_BOUND`` (in either direction)."""


def bounded(value: Fraction) -> Fraction:
    """``value`` within ``[-BEYOND, BEYOND]``, its denominator at most ``RF_BOUND``."""
    numerator, denominator = value.numerator, value.denominator
    if denominator == 1 and -RF_BOUND <= numerator <= RF_BOUND:
        return value  # the usual case, without Fraction's slower comparisons
    if value > RF_BOUND:
        return BEYOND
    if value < -RF_BOUND:
        return -BEYOND
    if value.denominator > RF_BOUND:
        return value.limit_denominator(RF_BOUND)
    return value


def bounded_jump(value: Fraction) -> Fraction:
    """A jump: bounded, and never below 2^-48 (rounding must not make it zero)."""
    return max(bounded(value), Fraction(1, RF_BOUND))


def beyond_text(value: Fraction) -> str | None:
    """``>2^48`` or ``<-2^48`` for a value past the bound; None for any other."""
    if abs(value) <= RF_BOUND:
        return None
    return ">2^48" if value > 0 else "<-2^48"


def effective_kernel(kernel: int, dilation: int) -> int:
    """``k_eff = d (k - 1) + 1``: the span a dilated kernel covers."""
    return dilation * (kernel - 1) + 1


def conv_output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """``floor((n + 2p - d(k-1) - 1) / s) + 1``, with ``pad_total`` = both sides (2p).

    Unbalanced padding (``padding: same`` with an even effective kernel) passes its true total.
    The result may be zero or negative; callers reject that with the layer's location.
    """
    return (size + pad_total - effective_kernel(kernel, dilation)) // stride + 1


def conv_transpose_output_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int, output_padding: int
) -> int:
    """``(n - 1) s - 2p + d(k-1) + output_padding + 1``."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def pool_output_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> int:
    """ATen's ``pooling_output_shape``.

    ``floor_or_ceil((n + 2p - d(k-1) - 1) / s) + 1``; with ``ceil_mode`` the last window must start
    inside the input or the left padding, else it is dropped: if ``(out - 1) s >= n + p``,
    ``out -= 1``.
    """
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-numerator // stride) if ceil_mode else numerator // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def same_padding(kernel: int, dilation: int) -> tuple[int, int]:
    """torch's ``padding='same'`` split: total ``d(k-1)``, the extra pixel on the right."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """Adaptive pooling's windows: ``[floor(i n / m), ceil((i + 1) n / m))`` for each output i."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def even_adaptive_window(size: int, out: int) -> tuple[int, int] | None:
    """``(width, step)`` when all ``out`` adaptive windows over ``size`` share one width and
    step, else None; without listing the windows (``out`` may be huge).

    With ``size = q out + r``, window ``i`` starts at ``q i + floor(i r / out)``: of the
    ``out - 1`` steps, ``r - 1`` are ``q + 1`` and the others ``q`` (for ``r >= 1``), so the
    steps agree exactly when ``r`` is 0 or 1; the widths are then ``q + r``.
    """
    step, rest = divmod(size, out)
    return (step + rest, step) if out > 1 and rest in (0, 1) else None


def upsample_output_size(size: int, scale_factor: float) -> int:
    """``floor(n * scale)`` computed in doubles, exactly as ``F.interpolate`` does."""
    return math.floor(float(size) * scale_factor)


@dataclass(frozen=True, repr=False)
class AxisRF:
    """Receptive field along one spatial axis of the network input.

    ``size``: how many input pixels one unit can see; ``jump``: input pixels between adjacent
    units (the effective stride); ``start``: centre of the first unit's window. ``positional`` is
    False once the axis was flattened or pooled globally: every unit then sees the whole span.
    ``known`` is False after a layer that does not say what it does to the field (a plugin kind
    without ``receptive_field``): the axis stays unknown through every later layer.
    ``undefined`` names why a column has no field at all (``token ids``: an integer input's
    dims are positions in a sequence of ids, not pixels of a signal); such a column is not
    positional, no layer changes it, and views show the reason instead of a number.
    """

    size: Fraction = Fraction(1)
    jump: Fraction = Fraction(1)
    start: Fraction = Fraction(0)
    positional: bool = True
    undefined: str = ""
    known: bool = True
    period: int = 0
    """Units in one tile, or 0: after windowed attention (Swin) all units of a window share one
    field, the hull of the window (``size`` is that hull), the windows starting at units
    ``phase + m period``. A later window reads whole tiles (``through_window``)."""
    phase: int = 0

    @staticmethod
    def unknown() -> AxisRF:
        """An axis whose field nobody can tell: not positional, so every window passes it by."""
        return AxisRF(positional=False, known=False)

    def through_window(self, kernel: int, stride: int, pad_left: int, dilation: int) -> AxisRF:
        """The field after a sliding window (convolution or pooling) on this axis."""
        if not self.positional:
            return self
        k_eff = effective_kernel(kernel, dilation)
        if self.period and k_eff == 1 and stride == 1:
            return self  # pointwise: the tiles stay
        if self.period:  # a window meets up to tiles_met tiles: their hull
            met = tiles_met(k_eff, -pad_left, stride, self.period, self.phase)
            grown = (met - 1) * self.period * self.jump
            return AxisRF(
                size=bounded(self.size + grown),
                jump=bounded_jump(self.jump * stride),
                start=bounded(self.start + (Fraction(k_eff - 1, 2) - pad_left) * self.jump),
            )
        return AxisRF(
            size=bounded(self.size + (k_eff - 1) * self.jump),
            jump=bounded_jump(self.jump * stride),
            start=bounded(self.start + (Fraction(k_eff - 1, 2) - pad_left) * self.jump),
        )

    def through_transposed(
        self, kernel: int, stride: int, padding: int, dilation: int
    ) -> AxisRF:
        """A transposed convolution: the jump divides by the stride.

        An output unit reads inputs ``i`` with ``o = i s - p + t d``: at most ``(k_eff - 1) / s``
        input steps apart, so ``r_out = r_in + (k_eff - 1) j_in / s`` (exact when ``s`` divides
        ``k_eff - 1``, else an upper bound), ``j_out = j_in / s`` and
        ``start_out = start_in + (p - (k_eff - 1) / 2) j_in / s``.
        """
        if not self.positional:
            return self
        k_eff = effective_kernel(kernel, dilation)
        return AxisRF(
            size=bounded(self.size + Fraction(k_eff - 1, stride) * self.jump),
            jump=self.jump if self.jump == BEYOND else bounded_jump(self.jump / stride),
            start=bounded(self.start + (padding - Fraction(k_eff - 1, 2)) * self.jump / stride),
        )

    def through_upsample(
        self, scale: Fraction, taps: int, align_centres: bool, first: int = 0
    ) -> AxisRF:
        """Upsampling by ``scale`` with an interpolation reading ``taps`` neighbours.

        ``r_out = r_in + (taps - 1) j_in``, ``j_out = j_in / scale``; with half-pixel centres
        (``align_corners=False``) the first unit sits at ``start_in + (1/(2 scale) - 1/2) j_in``;
        a copy of input unit ``first`` (``nearest-exact``) at ``start_in + first j_in``.
        """
        if not self.positional:
            return self
        shift = (1 / (2 * scale) - Fraction(1, 2)) * self.jump if align_centres else Fraction(0)
        shift += first * self.jump
        return AxisRF(
            size=bounded(self.size + (taps - 1) * self.jump),
            jump=self.jump if self.jump == BEYOND else bounded_jump(self.jump / scale),
            start=bounded(self.start + shift),
        )

    def whole(self, extent: int) -> AxisRF:
        """Every unit sees all ``extent`` positions of this axis (global pool, Flatten + Linear).

        This is a window of ``k = s = extent``: ``r_out = r_in + (extent - 1) j_in``.
        """
        if not self.positional:
            return self
        k = max(extent, 1)
        seen = self.through_window(k, k, 0, 1)
        return AxisRF(seen.size, seen.jump, seen.start, positional=False)

    def __repr__(self) -> str:
        """``AxisRF(size=53, jump=8, start=0.5)``: plain numbers, not ``Fraction(53, 1)``."""
        whole = "" if self.positional else ", positional=False"
        return (f"AxisRF(size={_plain(self.size)}, jump={_plain(self.jump)}, "
                f"start={_plain(self.start)}{whole})")

    def __str__(self) -> str:
        """``53 (jump 8, start 0.5)``, or ``53 (whole axis)`` once flattened or pooled."""
        if not self.positional:
            return f"{_plain(self.size)} (whole axis)"
        return f"{_plain(self.size)} (jump {_plain(self.jump)}, start {_plain(self.start)})"


def _plain(value: Fraction) -> str:
    """``53``, ``0.5``, or ``1/3`` when no short decimal is exact."""
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    return repr(as_float) if Fraction(as_float) == value and len(repr(as_float)) <= 8 else (
        f"{value.numerator}/{value.denominator}")


def tiles_met(units: int, first: int, step: int, period: int, phase: int) -> int:
    """The most tiles that one of the windows ``[first + i step, first + i step + units)``
    touches, the tiles being runs of ``period`` units starting at ``phase + m period``
    (the windows' offsets modulo the period repeat within ``period`` windows)."""
    most = 1
    for index in range(period):
        start = first + index * step
        end = start + units - 1
        most = max(most, (end - phase) // period - (start - phase) // period + 1)
    return most


def number(value: Fraction) -> int | float:
    """A fraction as the plainest JSON number: an int when whole, else a float."""
    return int(value) if value.denominator == 1 else float(value)


CHANNEL_AXIS = AxisRF(Fraction(0), Fraction(0), Fraction(0), positional=False)
"""The column of a receptive field that stands for the channel axis: present only while that
axis is not dim 0 of a sample (after ``Permute`` to channels-last, ``[H, W, C]``), where the
field then has one column per sample dim. No spatial axis has size 0."""


def no_field(reason: str) -> AxisRF:
    """A column without a receptive field, and why (``token ids``)."""
    return AxisRF(Fraction(0), Fraction(0), Fraction(0), positional=False, undefined=reason)


def undefined_reason(rf: tuple[AxisRF, ...]) -> str:
    """Why ``rf`` has no field (the first undefined column's reason), or ``""``."""
    return next((axis.undefined for axis in rf if axis.undefined), "")


def spatial_columns(rf: tuple[AxisRF, ...]) -> tuple[AxisRF, ...]:
    """The columns of ``rf`` that describe spatial axes (``CHANNEL_AXIS`` left out)."""
    return tuple(axis for axis in rf if axis != CHANNEL_AXIS)


def column_start(rf: tuple[AxisRF, ...], shape: Shape) -> int | None:
    """The sample dim that the first column of ``rf`` follows: 1 in ``[C, *spatial]`` (one
    column per dim after the channels), 0 when every dim has a column, the channels' being
    ``CHANNEL_AXIS`` (channels-last ``[H, W, C]``), None when the columns follow no dims of
    ``shape`` any more (after ``Flatten`` or ``Unflatten``)."""
    if len(rf) == len(shape) - 1:
        return 1
    if len(rf) == len(shape) and rf.count(CHANNEL_AXIS) == 1:
        return 0
    return None


def broadcast_shape(a: Shape, b: Shape) -> Shape | None:
    """torch's broadcast of two samples of the same rank (the batch dim is prepended to both,
    so a sample of another rank cannot broadcast for every batch size): per dim, equal sizes
    or a 1, which stretches. None when they do not broadcast."""
    if len(a) != len(b) or any(x != y and 1 not in (x, y) for x, y in zip(a, b, strict=True)):
        return None
    return tuple(max(x, y) if 0 not in (x, y) else 0 for x, y in zip(a, b, strict=True))


def rf_to_dicts(rf: tuple[AxisRF, ...]) -> list[dict[str, Any]]:
    """Per spatial axis ``{size, jump, start}`` (a channels-last sample's channel column is left
    out); an unknown axis (``AxisRF.known``) gives nulls; a column without a field has null
    numbers and says why (``undefined``)."""
    reason = undefined_reason(rf)
    if reason:
        return [{"size": None, "jump": None, "start": None, "undefined": reason}]
    return [
        {"size": number(a.size), "jump": number(a.jump), "start": number(a.start)} if a.known
        else {"size": None, "jump": None, "start": None}
        for a in spatial_columns(rf)
    ]
