"""``netspec.core.window``'s explanation helpers where they branch: the rounding shown for
``floor`` and ``ceil`` when the stride does not divide the span, how numbers print, axis names
beyond three, and which receptive-field lines are written when an axis is already seen whole.
Sizes are checked against torch's modules; fields are worked by hand above each case.
"""

from __future__ import annotations

from fractions import Fraction

import torch

from netspec.core.shapes import AxisRF
from netspec.core.window import (
    Window,
    axis_lines,
    axis_names,
    num,
    whole_field_lines,
    window_field_lines,
)


def test_floor_with_a_remainder_is_not_corrected() -> None:
    """28 - (5-1) - 1 = 23 positions past the first window; floor(23/2) + 1 = 12 windows."""
    assert torch.nn.Conv1d(1, 1, 5, stride=2)(torch.zeros(1, 1, 28)).shape[-1] == 12
    assert Window(28, 5, stride=2).explain_size("H") == (
        "H_out = floor((28 + 2*0 - 1*(5-1) - 1)/2) + 1 = 12"
    )


def test_ceil_with_a_remainder_keeps_its_last_window() -> None:
    """5 - (2-1) - 1 = 3; ceil(3/2) + 1 = 3: the last window starts at 4, inside the input, so
    torch keeps it and nothing is subtracted."""
    assert torch.nn.MaxPool1d(2, 2, ceil_mode=True)(torch.zeros(1, 1, 5)).shape[-1] == 3
    assert Window(5, 2, stride=2, ceil_mode=True).explain_size("W") == (
        "W_out = ceil((5 + 2*0 - 1*(2-1) - 1)/2) + 1 = 3"
    )


def test_ceil_over_a_stride_of_three() -> None:
    """7 + 2*1 - (3-1) - 1 = 6; ceil(6/3) + 1 = 3, torch's MaxPool1d(3, 3, 1, ceil_mode)."""
    assert torch.nn.MaxPool1d(3, 3, 1, ceil_mode=True)(torch.zeros(1, 1, 7)).shape[-1] == 3
    window = Window(7, 3, stride=3, pad_left=1, pad_right=1, ceil_mode=True)
    assert window.explain_size("L") == "L_out = ceil((7 + 2*1 - 1*(3-1) - 1)/3) + 1 = 3"


def test_numbers_print_as_integers_decimals_or_beyond_the_bound() -> None:
    assert num(12345) == "12345"  # an int stays whole, not 1.234e+04
    assert num(Fraction(1, 3)) == "0.3333"
    assert num(2**48) == str(2**48)  # the bound itself is still a number
    assert num(2**48 + 1) == ">2^48"
    assert num(-(2**48) - 1) == "<-2^48"


def test_axes_beyond_three_are_numbered_from_one() -> None:
    assert axis_names(2) == ("H", "W")
    assert axis_names(4) == ("A1", "A2", "A3", "A4")
    assert axis_lines("RF", ["1", "2", "3", "4", "5"]) == [
        "RF_A1 = 1", "RF_A2 = 2", "RF_A3 = 3", "RF_A4 = 4", "RF_A5 = 5"
    ]


def test_an_axis_seen_whole_has_no_field_line_and_the_others_keep_theirs() -> None:
    """H already seen whole (a global pool made it so): no window changes it, no line; W's
    window of 2, stride 2 still grows W's field: 1 + (2-1)*1 = 2, named W."""
    windows = (Window(1, 1), Window(6, 2, stride=2))
    whole = AxisRF(Fraction(8), Fraction(8), positional=False)
    assert window_field_lines(windows, (whole, AxisRF())) == [
        "RF_W = 1 + (2-1)*1 = 2, jump = 1*2 = 2"]
    assert window_field_lines(windows, (AxisRF(), whole)) == ["RF_H = 1 + (1-1)*1 = 1, jump = 1"]
    assert window_field_lines(windows, (whole, whole)) == []
    # both positional: 1 + (2-1)*1 = 2 on W, 1 + (1-1)*1 = 1 on H
    assert window_field_lines(windows, (AxisRF(), AxisRF())) == [
        "RF_H = 1 + (1-1)*1 = 1, jump = 1",
        "RF_W = 1 + (2-1)*1 = 2, jump = 1*2 = 2",
    ]


def test_field_lines_need_one_field_per_window() -> None:
    windows = (Window(6, 2), Window(6, 2))
    assert window_field_lines(windows, (AxisRF(),)) == []
    assert window_field_lines((), (AxisRF(),)) == []
    assert window_field_lines((), ()) == []


def test_whole_axis_lines_only_for_the_axes_made_whole() -> None:
    """Only W (extent 5) becomes whole: 1 + (5-1)*1 = 5; H keeps its field and has no line."""
    assert whole_field_lines((AxisRF(), AxisRF()), (None, 5)) == [
        "RF_W = 1 + (5-1)*1 = 5, whole axis"
    ]
    # an axis already whole gets no second line; H: 3 + (4-1)*2 = 9
    seen = AxisRF(Fraction(8), Fraction(8), positional=False)
    assert whole_field_lines((AxisRF(Fraction(3), Fraction(2)), seen), (4, 6)) == [
        "RF_H = 3 + (4-1)*2 = 9, whole axis"
    ]
