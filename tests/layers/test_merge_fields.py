"""Receptive fields where paths meet (``netspec.layers.merge``): window attentions shifted
differently side by side, paths in different layouts, broadcasting and concatenation in a
channels-last layout, token ids. Expected fields come from hand arithmetic written out here
and from gradients of the built module (``largest_field_rows``)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

import netspec
from netspec.core.shapes import CHANNEL_AXIS, AxisRF
from netspec.layers.merge import JOINT_PERIOD_LIMIT, merge_fields
from tests.gradient_support import largest_field_rows

LAST = {"Permute": {"dims": [1, 2, 0]}}    # [C, H, W] -> [H, W, C]
FIRST = {"Permute": {"dims": [2, 0, 1]}}   # and back


def window(shift: int, size: int = 4) -> dict[str, Any]:
    return {"ShiftedWindowAttention": {"window_size": size, "shift_size": shift,
                                       "num_heads": 1}}


def side_by_side(shifts: tuple[int, int]) -> netspec.Spec:
    """Two window attentions (windows of 4 on a 12 x 12 map) added, each shifted its way."""
    return netspec.load({"input": [4, 12, 12], "layers": [
        LAST,
        {"Parallel": {"merge": "add", "branches": [[window(s)] for s in shifts]}},
        FIRST]})


@pytest.mark.parametrize(("shift", "union"), [
    # windows at 0, 4, 8 and at 2 - 4, 2, 6, 10: unit 1 lies in [0, 3] and [-2, 1], 6 pixels
    (2, 6),
    # windows at 0, 4, 8 and at 1 - 4, 1, 5, 9: unit 0 lies in [0, 3] and [-3, 0], 7 pixels
    (1, 7),
    # windows at 0, 4, 8 and at 3 - 4, 3, 7, 11: unit 3 lies in [0, 3] and [3, 6], 7 pixels
    (3, 7),
])
def test_windows_shifted_differently_see_the_union_of_their_tiles(shift: int, union: int) -> None:
    spec = side_by_side((0, shift))
    merged = netspec.analyze(spec).layers[1].rf[0]
    assert merged.size == union
    assert (merged.period, merged.positional) == (0, True)  # no longer one tiling
    assert largest_field_rows(spec) == union  # an interior unit reads both tiles whole


PATCH = {"Conv2d": {"out_channels": 4, "kernel_size": 2, "stride": 2}}  # 2 pixels a unit
TILES = {"ShiftedWindowAttention": {"window_size": 3, "shift_size": 2, "num_heads": 1}}
CONV3 = [FIRST, {"Conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1}}, LAST]


@pytest.mark.parametrize("tiles_first", [True, False])
def test_windows_beside_a_convolution_of_the_same_size_see_both(tiles_first: bool) -> None:
    """2x2 patches, stride 2 (field 2, jump 2, centre 0.5), then side by side: windows of 3
    units from unit 2 (tiles [-1, 1], [2, 4], ...: 2 + (3-1)*2 = 6 pixels) and a 3x3
    convolution (also 6). Unit 1 lies in the tile [-1, 1] and its convolution reads units
    [0, 2]: units -1 to 2, 4 units of 2 pixels: 8. Unit 0's window and tile are both
    [-1, 1]: 6. So the largest union is 8, from units that are not the first."""
    branches = [[TILES], CONV3] if tiles_first else [CONV3, [TILES]]
    spec = netspec.load({"input": [4, 24, 24], "layers": [
        PATCH, LAST, {"Parallel": {"merge": "add", "branches": branches}}, FIRST]})
    merged = netspec.analyze(spec).layers[2].rf[0]
    assert (merged.size, merged.jump, merged.start, merged.period) == (8, 2, Fraction(1, 2), 0)
    assert largest_field_rows(spec) == 8


def test_windows_of_one_tiling_keep_it() -> None:
    merged = netspec.analyze(side_by_side((2, 2))).layers[1].rf[0]
    assert (merged.size, merged.period, merged.phase) == (4, 4, 2)


def test_a_residual_keeps_the_tiles_of_its_wider_body() -> None:
    """Swin's block: the identity shortcut's one pixel lies inside the body's tile."""
    spec = netspec.load({"input": [4, 12, 12], "layers": [LAST, {"Residual": {
        "body": [window(2)], "shortcut": "identity"}}, FIRST]})
    merged = netspec.analyze(spec).layers[1].rf[0]
    assert (merged.size, merged.period, merged.phase) == (4, 4, 2)


def test_tilings_too_long_to_compare_unit_by_unit_merge_into_the_sum_bound() -> None:
    """Windows of 67 and 71 units: a joint period of 4757 units is not enumerated; both hulls
    hold the unit's own centre, so their union is at most 67 + 67 - 1 pixels."""
    assert JOINT_PERIOD_LIMIT < 67 * 71
    half = Fraction(1, 2)
    a = AxisRF(Fraction(67), start=half, period=67)
    b = AxisRF(Fraction(67), start=half, period=71, phase=3)
    assert merge_fields([("a", (a,)), ("b", (b,))], "Parallel") == (
        AxisRF(Fraction(133), start=half),)


def test_a_joint_period_at_the_limit_is_enumerated() -> None:
    """Tiles of 4096 and of 1024 units, hulls of 4096 pixels (joint period 4096, the limit):
    unit 0 lies in [0, 4095] and in the hull centred on 511.5, [-1536, 2559]: 5632 pixels,
    less than the bound 4096 + 4096 - 1."""
    assert JOINT_PERIOD_LIMIT == 4096
    a = AxisRF(Fraction(4096), period=4096)
    b = AxisRF(Fraction(4096), period=1024)
    assert merge_fields([("a", (a,)), ("b", (b,))], "Parallel") == (AxisRF(Fraction(5632)),)


def three(*branches: list[Any]) -> dict[str, Any]:
    return {"input": [4, 4, 4], "layers": [{"Parallel": {"merge": "add",
                                                           "branches": list(branches)}}]}


@pytest.mark.parametrize(("branches", "named"), [
    (([LAST], ["ReLU"]), "branches[0] has its channels at dim 2 (3 columns), branches[1] has "
                         "its channels at dim 0 (2 columns)"),
    # the third path is compared too, after two that agree
    ((["ReLU"], ["GELU"], [LAST]), "branches[0] has its channels at dim 0 (2 columns), "
                                   "branches[2] has its channels at dim 2 (3 columns)"),
    # both channels-last, the channels at different dims ([H, W, C] and [W, C, H])
    (([LAST], [{"Permute": {"dims": [2, 0, 1]}}]), "its channels at dim 2 (3 columns), "
                                                    "branches[1] has its channels at dim 1"),
])
def test_paths_in_different_layouts_are_refused(branches: tuple[list[Any], ...],
                                                named: str) -> None:
    with pytest.raises(netspec.SpecError) as caught:
        netspec.load(three(*branches))
    (problem,) = caught.value.problems
    assert problem.path == ("layers", 0, "Parallel")
    assert problem.message.startswith("Parallel merges paths in different layouts: ")
    assert named in problem.message
    assert problem.message.endswith("; their units would be combined across different axes; "
                                    "permute the paths to the same layout")


def test_a_residual_body_in_another_layout_is_refused() -> None:
    with pytest.raises(netspec.SpecError, match=r"body has its channels at dim 2 .* shortcut"):
        netspec.load({"input": [4, 4, 4], "layers": [{"Residual": {
            "body": [LAST], "shortcut": "identity"}}]})


def test_token_ids_stay_without_a_field_through_parallel_paths() -> None:
    spec = netspec.load({"input": {"shape": [16], "dtype": "long"}, "layers": [
        {"Embedding": {"num_embeddings": 10, "embedding_dim": 8}},
        {"Parallel": {"merge": "add", "branches": [[{"Linear": {"out_features": 8}}],
                                                   [{"Linear": {"out_features": 8}}]]}}]})
    report = netspec.analyze(spec)
    assert [axis.undefined for axis in report.layers[1].rf] == ["token ids"]
    assert report.to_dict()["layers"][1]["receptive_field"] == [
        {"size": None, "jump": None, "start": None, "undefined": "token ids"}]


def channels_last_gate() -> netspec.Spec:
    """A squeeze-excitation gate on an [H, W, C] map: the mean of each channel over the 6 x 6
    map (a pool in [C, H, W], back to [1, 1, C]), broadcast over every pixel."""
    return netspec.load({"input": [4, 6, 6], "layers": [LAST, {"Gate": {"layers": [
        FIRST, {"AvgPool2d": {"kernel_size": 6}}, LAST, "Sigmoid"]}}, FIRST]})


def test_a_channels_last_gate_broadcast_over_the_map_is_seen_whole() -> None:
    report = netspec.analyze(channels_last_gate())
    gated = report.layers[1].rf
    assert gated[2] == CHANNEL_AXIS
    # every unit reads its own pixel and the gate's one unit, which read all 6 rows
    assert [(axis.size, axis.positional) for axis in gated[:2]] == [(6, False), (6, False)]
    assert largest_field_rows(channels_last_gate()) == 6


def test_a_gate_on_a_flattened_map_keeps_the_flattened_fields() -> None:
    """After ``Flatten`` the columns follow no dims: the gate's broadcast changes nothing."""
    report = netspec.analyze(netspec.load({"input": [4, 6, 6], "layers": [
        {"Flatten": {"start_dim": 2}},  # [4, 36]: both axes whole, 6 pixels
        {"Gate": {"layers": [{"AdaptiveAvgPool1d": {"output_size": 1}}, "Sigmoid"]}}]}))
    assert [(axis.size, axis.positional) for axis in report.rf] == [(6, False), (6, False)]


def test_every_path_whole_keeps_the_first_paths_spacing() -> None:
    """Branch 0: a 6 x 6 max pool, one unit (field 6, jump 6, centre 2.5) broadcast over the
    map; branch 1: a global mean (a window of 6 every 6: the same numbers) spread back over
    6 x 6: both see the axis whole, and so does the merge."""
    spec = netspec.load({"input": [4, 6, 6], "layers": [{"Parallel": {"merge": "mul", "branches": [
        [{"MaxPool2d": {"kernel_size": 6}}],
        [{"AdaptiveAvgPool2d": {"output_size": 1}}, {"Upsample": {"size": 6}}]]}}]})
    fields = netspec.analyze(spec).to_dict()["layers"][0]["receptive_field"]
    assert fields == [{"size": 6, "jump": 6, "start": 2.5}] * 2


def rows_of(branches: list[list[Any]], merge: str) -> netspec.Spec:
    return netspec.load({"input": [4, 6, 6], "layers": [
        LAST, {"Parallel": {"merge": merge, "branches": branches}}]})


def row(start: int) -> dict[str, Any]:
    return {"Narrow": {"dim": 0, "start": start, "length": 1}}  # one row of [H, W, C]


def test_rows_concatenated_in_a_channels_last_layout_have_an_unknown_field() -> None:
    """``concat`` joins dim 0, here the rows: row 0 from one path, row 1 from the other,
    not evenly spaced input rows (0 and 5): H is unknown, W stays."""
    report = netspec.analyze(rows_of([[row(0)], [row(5)]], "concat"))
    merged = report.layers[1]
    assert merged.out_shape == (2, 6, 4)
    h, w, channels = merged.rf
    assert not h.known
    assert (w.size, w.jump, w.positional) == (1, 1, True)
    assert channels == CHANNEL_AXIS


def test_a_row_added_to_every_row_is_broadcast_not_joined() -> None:
    """``add`` of the whole map and its row 5: the row is broadcast, so every unit reads its
    own pixel and row 5, seen whole over H."""
    report = netspec.analyze(rows_of([["ReLU"], [row(5)]], "add"))
    h, w, _ = report.layers[1].rf
    assert (h.known, h.positional, w.positional) == (True, False, True)


def test_rows_joined_where_the_rows_are_seen_whole_stay_whole() -> None:
    """A pool to one row per column first ([4, 1, 6]: H whole, 6 pixels; W one pixel a
    unit), channels-last, two copies joined: rows seen whole stay so, W unchanged."""
    report = netspec.analyze(netspec.load({"input": [4, 6, 6], "layers": [
        {"AdaptiveAvgPool2d": {"output_size": [1, 6]}}, LAST,
        {"Parallel": {"merge": "concat", "branches": [["ReLU"], ["GELU"]]}}]}))
    h, w, _ = report.layers[2].rf
    assert (h.known, h.positional, h.size) == (True, False, 6)
    assert (w.positional, w.size) == (True, 1)


def test_rows_joined_beside_whole_columns_are_unknown() -> None:
    """A pool to one column per row ([4, 6, 1]: W whole), channels-last, rows 0 and 5
    joined: H unknown, W still whole."""
    report = netspec.analyze(netspec.load({"input": [4, 6, 6], "layers": [
        {"AdaptiveAvgPool2d": {"output_size": [6, 1]}}, LAST,
        {"Parallel": {"merge": "concat", "branches": [[row(0)], [row(5)]]}}]}))
    h, w, _ = report.layers[2].rf
    assert not h.known
    assert (w.known, w.positional, w.size) == (True, False, 6)
