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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

Shape = tuple[int, ...]


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


@dataclass(frozen=True)
class AxisRF:
    """Receptive field along one spatial axis of the network input.

    ``size``: how many input pixels one unit can see; ``jump``: input pixels between adjacent
    units (the effective stride); ``start``: centre of the first unit's window. ``positional`` is
    False once the axis was flattened or pooled globally: every unit then sees the whole span.
    """

    size: Fraction = Fraction(1)
    jump: Fraction = Fraction(1)
    start: Fraction = Fraction(0)
    positional: bool = True

    def through_window(self, kernel: int, stride: int, pad_left: int, dilation: int) -> AxisRF:
        """The field after a sliding window (convolution or pooling) on this axis."""
        if not self.positional:
            return self
        k_eff = effective_kernel(kernel, dilation)
        return AxisRF(
            size=self.size + (k_eff - 1) * self.jump,
            jump=self.jump * stride,
            start=self.start + (Fraction(k_eff - 1, 2) - pad_left) * self.jump,
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
            size=self.size + Fraction(k_eff - 1, stride) * self.jump,
            jump=self.jump / stride,
            start=self.start + (padding - Fraction(k_eff - 1, 2)) * self.jump / stride,
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
            size=self.size + (taps - 1) * self.jump,
            jump=self.jump / scale,
            start=self.start + shift,
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


def number(value: Fraction) -> int | float:
    """A fraction as the plainest JSON number: an int when whole, else a float."""
    return int(value) if value.denominator == 1 else float(value)
