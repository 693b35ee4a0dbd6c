"""Convolutions against torch: shapes, parameters, MACs, and the same accept/reject verdict."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.core.shapes import AxisRF
from netspec.layers.registry import kind_of
from tests.torch_check import assert_matches_torch, assert_same_verdict

RANKS = {"Conv1d": 1, "Conv2d": 2, "Conv3d": 3}
TRANSPOSED = {"ConvTranspose1d": 1, "ConvTranspose2d": 2, "ConvTranspose3d": 3}
MAX_SIDE = {1: 24, 2: 12, 3: 6}


def per_axis(rank: int, values: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.lists(values, min_size=rank, max_size=rank))


@st.composite
def conv_case(
    draw: st.DrawFn, rank: int, transposed: bool
) -> tuple[dict[str, Any], tuple[int, ...]]:
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    args: dict[str, Any] = {
        "out_channels": groups * draw(st.integers(1, 3)),
        "kernel_size": draw(per_axis(rank, st.integers(1, 4))),
        "stride": draw(per_axis(rank, st.integers(1, 3))),
        "dilation": draw(per_axis(rank, st.integers(1, 2))),
        "groups": groups,
        "bias": draw(st.booleans()),
    }
    if transposed:
        args["padding"] = draw(per_axis(rank, st.integers(0, 2)))
        args["output_padding"] = 0
    else:
        args["padding"] = draw(st.one_of(per_axis(rank, st.integers(0, 2)), st.just("valid")))
        args["padding_mode"] = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    channels = groups * draw(st.integers(1, 3))
    spatial = draw(st.lists(st.integers(1, MAX_SIDE[rank]), min_size=rank, max_size=rank))
    return args, (channels, *spatial)


@pytest.mark.parametrize("kind", [*RANKS, *TRANSPOSED])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_convolutions_match_torch(kind: str, data: st.DataObject) -> None:
    rank = RANKS.get(kind) or TRANSPOSED[kind]
    args, shape = data.draw(conv_case(rank, kind in TRANSPOSED))
    assert_same_verdict(kind, args, shape)
    layer = kind_of(kind).model_validate(args)
    try:
        layer.output_shape(shape)
    except Exception:
        return  # rejected by both, as the verdict above confirmed
    assert_matches_torch(layer, shape)


@pytest.mark.parametrize("kind", [*RANKS, *TRANSPOSED])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_edge_arguments_get_torchs_verdict(kind: str, data: st.DataObject) -> None:
    rank = RANKS.get(kind) or TRANSPOSED[kind]
    args: dict[str, Any] = {
        "out_channels": data.draw(st.integers(1, 4)),
        "kernel_size": data.draw(per_axis(rank, st.integers(1, 6))),
        "stride": data.draw(per_axis(rank, st.integers(1, 3))),
        "dilation": data.draw(per_axis(rank, st.integers(1, 3))),
        "groups": data.draw(st.integers(1, 3)),
        "padding": data.draw(per_axis(rank, st.integers(0, 4))),
    }
    if kind in TRANSPOSED:
        args["output_padding"] = data.draw(per_axis(rank, st.integers(0, 3)))
    else:
        if data.draw(st.booleans()):
            args["padding"] = data.draw(st.sampled_from(["same", "valid"]))
        args["padding_mode"] = data.draw(
            st.sampled_from(["zeros", "reflect", "replicate", "circular"])
        )
    shape = (data.draw(st.integers(1, 4)), *data.draw(
        st.lists(st.integers(1, 7), min_size=rank, max_size=rank)))
    assert_same_verdict(kind, args, shape)


def test_lecture_filter_shape_and_parameters() -> None:
    # nn.Conv2d(1, 3, kernel_size=(4, 5)): 3 filters of 1x4x5 plus 3 biases = 63.
    layer = kind_of("Conv2d").model_validate({"out_channels": 3, "kernel_size": [4, 5]})
    assert layer.parameter_count((1, 28, 28)) == 3 * 1 * 4 * 5 + 3
    assert layer.output_shape((1, 28, 28)) == (3, 28 - 4 + 1, 28 - 5 + 1)


def test_same_padding_with_even_kernel_pads_right() -> None:
    # k=4: total padding 3, one left... torch puts 1 left and 2 right; size is kept.
    layer = kind_of("Conv1d").model_validate(
        {"out_channels": 1, "kernel_size": 4, "padding": "same"}
    )
    assert layer.output_shape((1, 10)) == (1, 10)
    rf = layer.receptive_field((AxisRF(),), (1, 10))
    # window of 4 centred at 1.5 - 1 (left pad) = 0.5
    assert (rf[0].size, rf[0].jump, float(rf[0].start)) == (4, 1, 0.5)


def test_transposed_conv_doubles_size() -> None:
    layer = kind_of("ConvTranspose2d").model_validate(
        {"out_channels": 8, "kernel_size": 2, "stride": 2}
    )
    # (n - 1) * 2 + 1 * (2 - 1) + 1 = 2n
    assert layer.output_shape((4, 7, 9)) == (8, 14, 18)
    assert layer.parameter_count((4, 7, 9)) == 4 * 8 * 2 * 2 + 8
