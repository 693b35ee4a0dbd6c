"""Arithmetic that stays small: receptive fields past 2^48, and the input-size search's sets."""

from __future__ import annotations

from fractions import Fraction

import netspec
from netspec.analysis.inputs import SizeSet, _ranges
from netspec.core.shapes import BEYOND, RF_BOUND, AxisRF
from netspec.views.render import fraction

STRIDE = 2**48


def test_a_jump_past_2_48_is_stored_as_beyond_and_stays_there() -> None:
    axis = AxisRF().through_window(kernel=1, stride=STRIDE, pad_left=0, dilation=1)
    assert axis.jump == STRIDE  # exactly the bound: still exact
    axis = axis.through_window(kernel=1, stride=2, pad_left=0, dilation=1)
    assert axis.jump == BEYOND == RF_BOUND + 1  # 2^49: past it
    # a transposed convolution divides the jump, but "beyond" has no exact value to divide
    assert axis.through_transposed(kernel=1, stride=4, padding=0, dilation=1).jump == BEYOND
    # a kernel of 3 at that jump: 1 + 2 * (2^49) input pixels, past the bound too
    assert axis.through_window(kernel=3, stride=1, pad_left=1, dilation=1).size == BEYOND
    assert fraction(BEYOND) == ">2^48" and fraction(-BEYOND) == "<-2^48"


def test_fine_fractions_keep_48_bits() -> None:
    axis = AxisRF()
    for _ in range(60):  # 2^-60 exactly would need a 61-bit denominator
        axis = axis.through_transposed(kernel=1, stride=2, padding=0, dilation=1)
    assert axis.jump == Fraction(1, RF_BOUND)  # never rounded to zero
    assert axis.jump.denominator <= RF_BOUND and axis.start.denominator <= RF_BOUND


def test_300_strides_of_2_48_report_a_small_field() -> None:
    spec = netspec.load(
        "input: [1, 8]\nlayers:\n  - Repeat: {times: 300, layers: "
        f"[{{MaxPool1d: {{kernel_size: 1, stride: {STRIDE}, ceil_mode: true}}}}]}}\n")
    [axis] = netspec.analyze(spec).rf
    # kernel 1 adds nothing: each unit sees 1 pixel, units (2^48)^300 apart, stored as beyond
    assert (axis.size, axis.jump) == (1, BEYOND)


def test_nearest_members_without_walking_to_the_bound() -> None:
    listed = SizeSet(bound=10**12, smallest=5, members=(5, 9, 10**11))
    assert listed.nearest(8) == (5, 9)
    assert listed.nearest(10**10) == (9, 10**11)
    assert listed.nearest(10**12) == (10**11, None)
    assert 10**11 in listed and 10**11 + 1 not in listed
    every_32 = SizeSet(bound=10**12, smallest=32, period=32, residues=(0,))
    assert every_32.nearest(10**11 + 1) == (10**11, 10**11 + 32)  # 10^11 = 32 * 3125000000
    assert SizeSet(bound=10**12).nearest(5 * 10**11) == (None, None)


def test_ranges_name_the_sizes_searched() -> None:
    assert _ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
    assert _ranges([1, 3, 5, 7]) == "1, 3, 5, ..."
    assert _ranges([]) == "none"
