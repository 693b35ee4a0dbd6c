"""The pure formulas of ``netspec.core.shapes``, each on examples worked by hand or by torch.

The kinds' tests reach these through whole layers; here each formula is pinned on its own, at
the edges where a wrong operator or constant shows (mutation testing, ``benchmarks/mutation.py``,
finds the edges the layer tests miss).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
import torch

from netspec.core.shapes import (
    AxisRF,
    adaptive_windows,
    conv_output_size,
    conv_transpose_output_size,
    effective_kernel,
    even_adaptive_window,
    number,
    pool_output_size,
    same_padding,
    tiles_met,
    upsample_output_size,
)


def test_effective_kernel() -> None:
    assert effective_kernel(3, 1) == 3
    assert effective_kernel(3, 2) == 5  # 2*(3-1)+1
    assert effective_kernel(1, 7) == 1


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("kernel", "dilation", "expected"), [
    (1, 1, (0, 0)), (3, 1, (1, 1)), (4, 1, (1, 2)), (2, 1, (0, 1)), (6, 1, (2, 3)),
    (3, 2, (2, 2)), (4, 3, (4, 5)), (9, 1, (4, 4)),
])
def test_same_padding_puts_the_odd_pixel_right(
    kernel: int, dilation: int, expected: tuple[int, int]
) -> None:
    """Total d(k-1), left half rounded down; torch keeps the size with it."""
    assert same_padding(kernel, dilation) == expected
    conv = torch.nn.Conv1d(1, 1, kernel, padding="same", dilation=dilation, bias=False)
    left, right = expected
    x = torch.randn(1, 1, 11)
    manual = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (left, right)), conv.weight,
                                        dilation=dilation)
    with torch.no_grad():
        assert torch.allclose(conv(x), manual)


def test_conv_output_size() -> None:
    assert conv_output_size(32, 5, 1, 0, 1) == 28  # LeNet: 32 - 5 + 1
    assert conv_output_size(224, 11, 4, 4, 1) == 55  # AlexNet: (224 + 4 - 11) // 4 + 1
    assert conv_output_size(9, 3, 1, 0, 2) == 5  # k_eff 5
    assert conv_output_size(4, 5, 1, 0, 1) == 0  # too small: callers reject it


def test_conv_transpose_output_size() -> None:
    # (n - 1) s - 2p + d(k-1) + op + 1
    assert conv_transpose_output_size(5, 3, 2, 1, 1, 1) == 4 * 2 - 2 + 2 + 1 + 1
    assert conv_transpose_output_size(4, 3, 1, 0, 2, 0) == 3 + 4 + 1
    module = torch.nn.ConvTranspose1d(1, 1, 4, stride=3, padding=2, dilation=2, output_padding=1)
    assert module(torch.zeros(1, 1, 6)).shape[-1] == conv_transpose_output_size(6, 4, 3, 2, 2, 1)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "dilation", "ceil"),
    [(7, 2, 2, 0, 1, True), (7, 2, 2, 0, 1, False), (5, 2, 2, 1, 1, True), (6, 3, 2, 1, 1, True),
     (8, 3, 2, 1, 1, True), (10, 3, 3, 1, 2, True), (10, 3, 3, 1, 2, False), (1, 1, 1, 0, 1, True),
     (9, 3, 4, 1, 1, True), (13, 3, 2, 0, 1, True)],
)
def test_pool_output_size_is_torchs(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool
) -> None:
    pool = torch.nn.MaxPool1d(kernel, stride, padding, dilation, ceil_mode=ceil)
    expected = pool(torch.zeros(1, 1, size)).shape[-1]
    assert pool_output_size(size, kernel, stride, padding, dilation, ceil) == expected


def test_pool_ceil_mode_drops_a_window_starting_in_the_right_padding() -> None:
    # n 5, k 2, s 2, p 1: ceil(5/2) + 1 = 4, but window 3 starts at 6 >= 5 + 1: 3
    assert pool_output_size(5, 2, 2, 1, 1, True) == 3
    # n 6, k 3, s 2, p 1: ceil(5/2) + 1 = 4; window 3 starts at 6 < 6 + 1: kept
    assert pool_output_size(6, 3, 2, 1, 1, True) == 4


def test_adaptive_windows() -> None:
    # [floor(i n / m), ceil((i + 1) n / m))
    assert adaptive_windows(5, 3) == [(0, 2), (1, 4), (3, 5)]
    assert adaptive_windows(4, 2) == [(0, 2), (2, 4)]
    assert adaptive_windows(3, 3) == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize(("size", "out", "expected"), [
    (4, 2, (2, 2)), (17, 2, (9, 8)), (16, 3, (6, 5)), (4, 3, (2, 1)),
    (5, 3, None), (7, 1, None), (10, 4, None), (9, 3, (3, 3)),
])
def test_even_adaptive_window(size: int, out: int, expected: tuple[int, int] | None) -> None:
    """Against the windows themselves: one width and one step, or None."""
    assert even_adaptive_window(size, out) == expected
    if out > 1:
        windows = adaptive_windows(size, out)
        widths = {hi - lo for lo, hi in windows}
        steps = {b[0] - a[0] for a, b in itertools.pairwise(windows)}
        even = len(widths) == 1 and len(steps) == 1
        assert (expected is not None) == even
        if expected is not None:
            assert expected == (widths.pop(), steps.pop())


def test_upsample_output_size_floors_a_double_product() -> None:
    assert upsample_output_size(100, 0.57) == 56  # 56.99999999999999
    assert upsample_output_size(3, 1 / 3) == 1
    assert upsample_output_size(5, 2.5) == 12
    assert upsample_output_size(4, 0.1) == 0


def test_number_is_the_plainest_json_number() -> None:
    assert number(Fraction(3)) == 3 and isinstance(number(Fraction(3)), int)
    assert number(Fraction(-2)) == -2 and isinstance(number(Fraction(-2)), int)
    assert number(Fraction(1, 2)) == 0.5 and isinstance(number(Fraction(1, 2)), float)
    assert number(Fraction(-7, 4)) == -1.75


def test_through_window() -> None:
    # from (size 3, jump 2, start 1): k 3, s 2, p 1, d 2: k_eff 5
    axis = AxisRF(Fraction(3), Fraction(2), Fraction(1)).through_window(3, 2, 1, 2)
    assert (axis.size, axis.jump, axis.start) == (3 + 4 * 2, 4, 1 + (2 - 1) * 2)
    assert axis.positional


def test_non_positional_axes_pass_through_every_layer() -> None:
    flat = AxisRF(Fraction(9), Fraction(4), Fraction(3), positional=False)
    assert flat.through_window(3, 2, 1, 1) == flat
    assert flat.through_transposed(3, 2, 1, 1) == flat
    assert flat.through_upsample(Fraction(2), 2, True) == flat
    assert flat.whole(5) == flat


def test_whole_sees_the_whole_extent() -> None:
    # from (5, 2, 1) over 6 units: 5 + (6-1)*2 = 15; start 1 + (6-1)/2 * 2 = 6; jump 2 * 6
    axis = AxisRF(Fraction(5), Fraction(2), Fraction(1)).whole(6)
    assert (axis.size, axis.jump, axis.start, axis.positional) == (15, 12, 6, False)
    # one position: nothing to add; an empty extent counts as one position
    one = AxisRF(Fraction(5), Fraction(2), Fraction(1)).whole(1)
    assert (one.size, one.jump, one.start, one.positional) == (5, 2, 1, False)
    assert AxisRF().whole(0) == AxisRF(positional=False)


def test_through_transposed_and_upsample_by_hand() -> None:
    """From (9, 4, 3): ConvTranspose k4 s2 p1: 9 + 3*4/2 = 15, jump 2, start 3 + (1 - 3/2)*2 = 2;
    bilinear x2 half-pixel: 9 + 4, jump 2, start 3 + (1/4 - 1/2)*4 = 2; nearest-exact x1/2:
    copies input unit floor(1/(2 * 1/2)) = 1 first: start 3 + 4, jump 8."""
    axis = AxisRF(Fraction(9), Fraction(4), Fraction(3))
    t = axis.through_transposed(4, 2, 1, 1)
    assert (t.size, t.jump, t.start) == (15, 2, 2)
    u = axis.through_upsample(Fraction(2), 2, True)
    assert (u.size, u.jump, u.start) == (13, 2, 2)
    n = axis.through_upsample(Fraction(1, 2), 1, False, first=1)
    assert (n.size, n.jump, n.start) == (9, 8, 7)


def tiles_touched(units: int, start: int, period: int, phase: int) -> int:
    """Tiles (runs of ``period`` from ``phase + m period``) that ``[start, start + units)``
    touches, by listing each position's tile."""
    return len({(position - phase) // period for position in range(start, start + units)})


def test_tiles_met_is_the_most_tiles_any_window_touches() -> None:
    """Windows of 3 every 3 from -1 over tiles of 4 from 1: [-1, 1] touches [-3, 0] and
    [1, 4], [2, 4] and [5, 7] one tile each, [8, 10] two: the most is 2."""
    assert tiles_met(3, -1, 3, 4, 1) == 2
    for units, step, period, phase in [(3, 3, 4, 1), (7, 7, 7, 3), (2, 2, 7, 0), (5, 2, 3, 2)]:
        for first in range(-8, 8):
            most = max(tiles_touched(units, first + i * step, period, phase)
                       for i in range(3 * period))
            assert tiles_met(units, first, step, period, phase) == most


def test_tiles_met_depends_on_the_first_window_only_modulo_the_period() -> None:
    """What ``windows.windowed`` relies on (its windows may be numbered from any one of
    them): starting ``k`` windows later tries the same starts modulo the period."""
    for units in range(1, 9):
        for period in range(1, 9):
            for phase in range(period):
                for first in range(-units, units):
                    expected = tiles_met(units, first, units, period, phase)
                    assert all(tiles_met(units, first + k * units, units, period, phase)
                               == expected for k in (-2, -1, 1, 2, 5))
