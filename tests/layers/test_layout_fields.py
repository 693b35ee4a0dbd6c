"""Receptive fields across ``Permute``, ``Chunk`` and ``Narrow`` where the sample has no
``[C, *spatial]`` layout (after ``Flatten``), is channels-last, or slices an axis that sees the
whole input; each expected field worked by hand in the docstring."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import netspec
from netspec.core.shapes import CHANNEL_AXIS

CONV: dict[str, Any] = {"Conv2d": {"out_channels": 4, "kernel_size": 3}}


def fields(shape: list[int], *layers: Any) -> list[list[tuple[object, object, object]]]:
    """Per top-level row, the (size, jump, start) of each spatial column of its field."""
    report = netspec.analyze(netspec.load({"input": shape, "layers": list(layers)}))
    return [[(a.size, a.jump, a.start) for a in row.rf if a != CHANNEL_AXIS]
            for row in report.top_level()]


def test_a_flattened_channels_last_map_is_seen_whole_as_a_channels_first_one() -> None:
    """3x3 conv on 8x8: a 6x6 map, field 3, jump 1, centre 1 on both axes. Flattened to
    [144], channels-last or not, every value may come from anywhere on the map: each axis
    whole, 3 + (6-1)*1 = 8, jump 6, centre 1 + (6-1)/2 = 3.5; a permute of a 1-dim sample
    changes nothing."""
    for layout in ([], [{"Permute": {"dims": [1, 2, 0]}}]):
        rows = fields([3, 8, 8], CONV, *layout, "Flatten", {"Permute": {"dims": [0]}})
        assert rows[-1] == [(8, 6, Fraction(7, 2))] * 2


def test_permute_after_flatten_and_unflatten_follows_nothing() -> None:
    """3x3 conv on 8x10: a 6x8 map. Flattened, every value may come from anywhere: the whole
    8x10 input (H then W). Unflattened to [16, 12] and permuted, [12, 16] has no [C, *spatial]
    layout to follow: the field stays the whole input, H first."""
    rows = fields([3, 8, 10], CONV, "Flatten", {"Unflatten": {"dim": 1,
                  "unflattened_size": [16, 12]}}, {"Permute": {"dims": [1, 0]}})
    assert [[size for size, _, _ in row] for row in rows[1:]] == [[8, 10]] * 3


def test_a_chunk_of_a_flattened_channels_last_map_moves_no_centre() -> None:
    """The second half of the flattened [144] starts at value 72, which is no position of
    either spatial axis: the whole-map fields of the flattened sample (8, jump 6, centre 3.5,
    as above) stay as they are."""
    rows = fields([3, 8, 8], CONV, {"Permute": {"dims": [1, 2, 0]}}, "Flatten",
                  {"Chunk": {"chunks": 2, "index": 1}})
    assert rows[-1] == [(8, 6, Fraction(7, 2))] * 2


def test_permute_after_a_partial_flatten_moves_no_column() -> None:
    """3x3 conv on 8x8: [4, 6, 6]. Channels and H merged, [24, 6]: H whole (3 + (6-1)*1 =
    8, jump 6, centre 3.5), W unknown. Two columns for two dims, yet neither is the channel
    marker: they follow no dims, and the permute to [6, 24] leaves them in order."""
    report = netspec.analyze(netspec.load({"input": [3, 8, 8], "layers": [
        CONV, {"Flatten": {"start_dim": 1, "end_dim": 2}}, {"Permute": {"dims": [1, 0]}}]}))
    h, w = report.rf
    assert (h.size, h.jump, h.start, h.positional) == (8, 6, Fraction(7, 2), False)
    assert not w.known


def test_a_channels_last_narrow_moves_the_centre_of_its_axis() -> None:
    """Channels-last [6, 6, 4]: dim 0 is H. From row 2: centre 1 + 2*1 = 3; W keeps 1."""
    rows = fields([3, 8, 8], CONV, {"Permute": {"dims": [1, 2, 0]}},
                  {"Narrow": {"dim": 0, "start": 2, "length": 3}})
    assert rows[-1] == [(3, 1, 3), (3, 1, 1)]


def test_slicing_an_axis_that_sees_the_whole_input_changes_nothing() -> None:
    """One branch pooled to one row is read by every row: H sees all 6 rows (size 6, centre
    (0 + 5)/2 = 5/2), whatever rows are kept; W (a 3x3 conv, padding 1: field 3, centre 0)
    is not sliced."""
    rows = fields([1, 6, 6], {"Parallel": {"merge": "add", "branches": [
        [{"Conv2d": {"out_channels": 2, "kernel_size": 3, "padding": 1}}],
        [{"AdaptiveAvgPool2d": {"output_size": [1, None]}}]]}},
        {"Narrow": {"dim": 1, "start": 2, "length": 3}})
    assert rows[-1] == [(6, 1, Fraction(5, 2)), (3, 1, 0)]
