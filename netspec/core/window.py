"""One sliding window along one spatial axis, and the arithmetic it explains. No torch here.

Convolutions and pools answer ``Layer.windows(in_shape)`` with one ``Window`` per spatial axis;
the lints (rows dropped by floor division, even kernels padded to keep the size), the input-size
search and ``netspec summary --explain`` read the same objects, so each formula lives once::

    out     = floor((n + pad_left + pad_right - d(k-1) - 1) / s) + 1      (ceil with ceil_mode)
    covered = (out - 1) s + d(k-1) + 1          padded positions that some window reads
    dropped = input rows that the next window, cut off by the floor, would have read
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from netspec.core.shapes import (
    AxisRF,
    beyond_text,
    conv_output_size,
    effective_kernel,
    pool_output_size,
)

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
"""How the spatial axes of a sample are called, by their number: ``[C, H, W]`` has H and W."""

ROW_WORDS = {"L": "positions", "D": "slices", "H": "rows", "W": "columns"}
"""What one index along an axis is called in messages: ``the last 2 rows``."""


def axis_names(rank: int) -> tuple[str, ...]:
    """``("H", "W")`` for 2 spatial axes; ``("A1", ..., "An")`` beyond 3."""
    return AXIS_NAMES.get(rank, tuple(f"A{i + 1}" for i in range(rank)))


def num(value: Fraction | int) -> str:
    """A number in a formula: ints as ints, fractions as short decimals."""
    value = Fraction(value)
    beyond = beyond_text(value)
    if beyond is not None:
        return beyond
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.4g}"


@dataclass(frozen=True)
class Window:
    """A window of ``kernel`` taps ``dilation`` apart, sliding by ``stride`` over ``size``
    input positions padded by ``pad_left`` and ``pad_right`` (pools pad both sides alike and
    may round up with ``ceil_mode``)."""

    size: int
    kernel: int
    stride: int = 1
    dilation: int = 1
    pad_left: int = 0
    pad_right: int = 0
    ceil_mode: bool = False

    @property
    def span(self) -> int:
        """``k_eff = d(k-1) + 1``: positions from the first tap to the last."""
        return effective_kernel(self.kernel, self.dilation)

    @property
    def output(self) -> int:
        """torch's output size (``netspec.shapes``)."""
        if self.ceil_mode:
            return pool_output_size(
                self.size, self.kernel, self.stride, self.pad_left, self.dilation, True
            )
        return conv_output_size(
            self.size, self.kernel, self.stride, self.pad_left + self.pad_right, self.dilation
        )

    @property
    def dropped(self) -> int:
        """Input positions at the end that no window reads but a further window would have.

        The floor division leaves out a last, partial window; the input positions it would
        have read beyond the last whole window are lost. Positions a stride wider than the
        window skips by design (a 1x1 convolution with stride 2) are not counted.
        """
        out = self.output
        covered = (out - 1) * self.stride + self.span
        first = max(covered, out * self.stride, self.pad_left)
        last = min(out * self.stride + self.span, self.pad_left + self.size)
        return max(0, last - first)

    def explain_size(self, axis: str) -> str:
        """``H_out = floor((28 + 2*2 - 1*(5-1) - 1)/1) + 1 = 28``."""
        if self.pad_left == self.pad_right:
            pad = f"2*{self.pad_left}"
        else:
            pad = f"{self.pad_left} + {self.pad_right}"
        rounding = "ceil" if self.ceil_mode else "floor"
        inner = f"({self.size} + {pad} - {self.dilation}*({self.kernel}-1) - 1)/{self.stride}"
        formula = f"{axis}_out = {rounding}({inner}) + 1"
        numerator = self.size + self.pad_left + self.pad_right - (self.span - 1) - 1
        rounded = -(-numerator // self.stride) if self.ceil_mode else numerator // self.stride
        if rounded + 1 != self.output:  # ceil_mode: the last window may not start in the padding
            formula += " - 1"
            note = " (a last window starting in the right padding is dropped)"
        elif self.pad_left != self.pad_right:
            note = f" (padding same: {self.pad_left} before, {self.pad_right} after)"
        else:
            note = ""
        return f"{formula} = {self.output}{note}"

    def explain_field(self, rf: AxisRF) -> str:
        """``1 + (5-1)*1 = 5, jump = 1``: the field and jump after this window, from ``rf``."""
        after = rf.through_window(self.kernel, self.stride, self.pad_left, self.dilation)
        taps = f"({self.kernel}-1)" if self.dilation == 1 else f"{self.dilation}*({self.kernel}-1)"
        jump = num(after.jump) if self.stride == 1 else (
            f"{num(rf.jump)}*{self.stride} = {num(after.jump)}"
        )
        return f"{num(rf.size)} + {taps}*{num(rf.jump)} = {num(after.size)}, jump = {jump}"


def axis_lines(label: str, values: Sequence[str]) -> list[str]:
    """``label = value`` once when every axis has the same value, else ``label_H = ...`` each."""
    if not values:
        return []
    if len(set(values)) == 1:
        return [f"{label} = {values[0]}"]
    names = axis_names(len(values))
    return [f"{label}_{name} = {value}" for name, value in zip(names, values, strict=True)]


def size_lines(windows: Sequence[Window]) -> list[str]:
    """One ``H_out = ...`` line per spatial axis."""
    names = axis_names(len(windows))
    return [window.explain_size(name) for window, name in zip(windows, names, strict=True)]


def window_field_lines(windows: Sequence[Window], rf: Sequence[AxisRF]) -> list[str]:
    """``RF = 1 + (5-1)*1 = 5, jump = 1`` (one line per axis when they differ). An axis already
    seen whole (a global pool made it so) has no line: no window changes its field; the
    others keep theirs, named (``RF_W = ...``)."""
    if not windows or len(rf) != len(windows):
        return []
    if all(axis.positional for axis in rf):
        return axis_lines("RF", [w.explain_field(a) for w, a in zip(windows, rf, strict=True)])
    names = axis_names(len(rf))
    return [f"RF_{name} = {w.explain_field(a)}"
            for name, w, a in zip(names, windows, rf, strict=True) if a.positional]


def whole_field(axis: AxisRF, extent: int) -> str:
    """``16 + (5-1)*4 = 32, whole axis``: every unit now sees the whole axis of ``extent``."""
    after = axis.whole(extent)
    return f"{num(axis.size)} + ({extent}-1)*{num(axis.jump)} = {num(after.size)}, whole axis"


def whole_field_lines(rf: Sequence[AxisRF], extents: Sequence[int | None]) -> list[str]:
    """Axes every unit now sees whole (global pool, Flatten): ``RF = 16 + (5-1)*4 = 32, whole
    axis``. ``extents`` has the size of each axis that becomes whole, None for the others."""
    names = axis_names(len(rf))
    values = {
        name: whole_field(axis, extent)
        for name, axis, extent in zip(names, rf, extents, strict=True)
        if extent is not None and axis.positional
    }
    if len(values) == len(rf):
        return axis_lines("RF", list(values.values()))
    return [f"RF_{name} = {value}" for name, value in values.items()]
