"""Pooling against torch: shapes, the same accept/reject verdict, hand-worked sizes and fields."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.core.errors import NetspecError
from netspec.core.shapes import AxisRF
from netspec.layers.registry import kind_of
from tests.torch_check import assert_matches_torch, assert_same_verdict

MAX_POOLS = {"MaxPool1d": 1, "MaxPool2d": 2, "MaxPool3d": 3}
AVG_POOLS = {"AvgPool1d": 1, "AvgPool2d": 2, "AvgPool3d": 3}
WINDOW_POOLS = {**MAX_POOLS, **AVG_POOLS}
ADAPTIVE_POOLS = {
    "AdaptiveAvgPool1d": 1,
    "AdaptiveAvgPool2d": 2,
    "AdaptiveAvgPool3d": 3,
    "AdaptiveMaxPool1d": 1,
    "AdaptiveMaxPool2d": 2,
    "AdaptiveMaxPool3d": 3,
}
MAX_SIDE = {1: 24, 2: 12, 3: 7}
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def per_axis(draw: st.DrawFn, rank: int, values: st.SearchStrategy[Any]) -> Any:
    """An int, or a tuple of one per axis (tuples, as netspec hands them to torch)."""
    if draw(st.booleans()):
        return draw(values)
    return tuple(draw(st.lists(values, min_size=rank, max_size=rank)))


def as_axes(value: Any, rank: int) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,) * rank


def accepted(kind: str, args: dict[str, Any], shape: tuple[int, ...]) -> bool:
    try:
        kind_of(kind).model_validate(args).output_shape(shape)
    except (NetspecError, ValueError):
        return False
    return True


def layer(kind: str, **args: Any) -> Any:
    return kind_of(kind).model_validate(args)


# --- valid arguments: netspec's shape, parameters, buffers and MACs are torch's ---


@st.composite
def window_case(draw: st.DrawFn, kind: str) -> tuple[dict[str, Any], tuple[int, ...]]:
    rank = WINDOW_POOLS[kind]
    kernel = per_axis(draw, rank, st.integers(1, 4))
    args: dict[str, Any] = {
        "kernel_size": kernel,
        "padding": tuple(draw(st.integers(0, k // 2)) for k in as_axes(kernel, rank)),
        "ceil_mode": draw(st.booleans()),
    }
    if draw(st.booleans()):
        args["stride"] = per_axis(draw, rank, st.integers(1, 3))
    dilation = (1,) * rank
    if kind in MAX_POOLS:
        args["dilation"] = per_axis(draw, rank, st.integers(1, 2))
        dilation = as_axes(args["dilation"], rank)
    else:
        args["count_include_pad"] = draw(st.booleans())
        if rank > 1:
            args["divisor_override"] = draw(st.sampled_from([None, -2, 1, 3]))
    spans = [d * (k - 1) + 1 for k, d in zip(as_axes(kernel, rank), dilation, strict=True)]
    spatial = tuple(draw(st.integers(span, max(span, MAX_SIDE[rank]))) for span in spans)
    return args, (draw(st.integers(1, 3)), *spatial)


@pytest.mark.parametrize("kind", WINDOW_POOLS)
@FAST
@given(data=st.data())
def test_valid_window_pools_match_torch(kind: str, data: st.DataObject) -> None:
    args, shape = data.draw(window_case(kind))
    assert_matches_torch(kind_of(kind).model_validate(args), shape)


@st.composite
def adaptive_case(draw: st.DrawFn, kind: str) -> tuple[dict[str, Any], tuple[int, ...]]:
    rank = ADAPTIVE_POOLS[kind]
    sizes = st.integers(1, 9) if rank == 1 else st.one_of(st.none(), st.integers(1, 9))
    output_size = per_axis(draw, rank, sizes)
    if output_size is None:
        output_size = draw(st.integers(1, 9))
    spatial = draw(st.lists(st.integers(1, MAX_SIDE[rank]), min_size=rank, max_size=rank))
    return {"output_size": output_size}, (draw(st.integers(1, 3)), *spatial)


@pytest.mark.parametrize("kind", ADAPTIVE_POOLS)
@FAST
@given(data=st.data())
def test_valid_adaptive_pools_match_torch(kind: str, data: st.DataObject) -> None:
    args, shape = data.draw(adaptive_case(kind))
    assert_matches_torch(kind_of(kind).model_validate(args), shape)


# --- arguments that are often invalid: netspec rejects exactly what torch rejects ---


@pytest.mark.parametrize("kind", WINDOW_POOLS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_edge_window_arguments_get_torchs_verdict(kind: str, data: st.DataObject) -> None:
    rank = WINDOW_POOLS[kind]
    args: dict[str, Any] = {
        "kernel_size": per_axis(data.draw, rank, st.integers(1, 6)),
        "padding": per_axis(data.draw, rank, st.integers(0, 3)),
        "ceil_mode": data.draw(st.booleans()),
    }
    if data.draw(st.booleans()):
        args["stride"] = per_axis(data.draw, rank, st.integers(1, 4))
    if kind in MAX_POOLS:
        args["dilation"] = per_axis(data.draw, rank, st.integers(1, 3))
    elif rank > 1:
        args["divisor_override"] = data.draw(st.sampled_from([None, 0, -1, 2]))
    spatial = data.draw(st.lists(st.integers(1, 7), min_size=rank, max_size=rank))
    assert_same_verdict(kind, args, (data.draw(st.integers(1, 3)), *spatial))


@pytest.mark.parametrize("kind", ADAPTIVE_POOLS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_edge_adaptive_arguments_get_torchs_verdict(kind: str, data: st.DataObject) -> None:
    rank = ADAPTIVE_POOLS[kind]
    sizes = st.one_of(st.none(), st.integers(-1, 6))
    output_size = per_axis(data.draw, rank, sizes)
    spatial = data.draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank))
    assert_same_verdict(kind, {"output_size": output_size}, (2, *spatial))


# --- hand-worked examples ---


def test_max_pool_halves_mnist() -> None:
    # floor((28 - 2) / 2) + 1 = 14
    pool = layer("MaxPool2d", kernel_size=2, stride=2)
    assert pool.output_shape((1, 28, 28)) == (1, 14, 14)
    assert pool.parameter_count((1, 28, 28)) == 0
    assert pool.macs((1, 28, 28), (1, 14, 14)) == 0


def test_max_pool_receptive_field() -> None:
    # From one pixel (size 1, jump 1, start 0): a 2-window covers 2 pixels, centred at 0.5,
    # and adjacent units are 2 pixels apart.
    pool = layer("MaxPool2d", kernel_size=2, stride=2)
    rf = pool.receptive_field((AxisRF(), AxisRF()), (1, 28, 28))
    assert [(a.size, a.jump, a.start) for a in rf] == [(2, 2, Fraction(1, 2))] * 2


def test_dilated_padded_max_pool_receptive_field() -> None:
    # k=3, d=2: k_eff = 5; padding 1 moves the first centre to (5 - 1)/2 - 1 = 1.
    pool = layer("MaxPool1d", kernel_size=3, stride=2, padding=1, dilation=2)
    (axis,) = pool.receptive_field((AxisRF(Fraction(3), Fraction(2), Fraction(1)),), (1, 20))
    # r = 3 + 4 * 2 = 11, j = 2 * 2 = 4, start = 1 + (2 - 1) * 2 = 3
    assert (axis.size, axis.jump, axis.start) == (11, 4, 3)


def test_stride_defaults_to_kernel_size() -> None:
    pool = layer("MaxPool1d", kernel_size=3)
    assert pool.output_shape((4, 10)) == (4, 3)  # floor((10 - 3) / 3) + 1
    assert pool.torch_kwargs((4, 10))["stride"] is None  # torch fills in kernel_size


def test_squeezenet_ceil_mode_pool() -> None:
    # ceil((111 - 3) / 2) + 1 = 55; the last window starts at 54 * 2 = 108 < 111: kept.
    pool = layer("MaxPool2d", kernel_size=3, stride=2, ceil_mode=True)
    assert pool.output_shape((96, 111, 111)) == (96, 55, 55)
    # floor mode on an even size: floor((110 - 3) / 2) + 1 = 54; ceil mode adds one: 55.
    assert layer("MaxPool2d", kernel_size=3, stride=2).output_shape((96, 110, 110)) == (96, 54, 54)
    assert pool.output_shape((96, 110, 110)) == (96, 55, 55)


def test_ceil_mode_drops_a_window_starting_in_the_right_padding() -> None:
    # n=5, k=2, s=2, p=1: ceil((5 + 2 - 2) / 2) + 1 = 4, but window 3 would start at
    # 3 * 2 = 6 >= n + p = 6, entirely in the right padding, so torch drops it: 3.
    pool = layer("MaxPool1d", kernel_size=2, stride=2, padding=1, ceil_mode=True)
    assert pool.output_shape((1, 5)) == (1, 3)
    assert tuple(torch.nn.MaxPool1d(2, 2, 1, ceil_mode=True)(torch.zeros(1, 1, 5)).shape) == (
        1,
        1,
        3,
    )


def test_lenet_average_pool() -> None:
    pool = layer("AvgPool2d", kernel_size=2, stride=2)
    assert pool.output_shape((6, 28, 28)) == (6, 14, 14)
    assert pool.output_shape((16, 10, 10)) == (16, 5, 5)


def test_padding_limit_is_half_the_kernel_and_ignores_dilation() -> None:
    with pytest.raises(ValueError, match=r"padding=3, kernel_size=4"):
        layer("MaxPool2d", kernel_size=4, padding=3)
    assert accepted("MaxPool2d", {"kernel_size": 4, "padding": 2}, (1, 9, 9))
    # k=2, d=3 spans 4 pixels, yet torch allows only padding <= 2 // 2 = 1.
    assert not accepted("MaxPool1d", {"kernel_size": 2, "dilation": 3, "padding": 2}, (1, 20))
    assert not accepted("AvgPool2d", {"kernel_size": [3, 4], "padding": [2, 2]}, (1, 9, 9))
    assert accepted("AvgPool2d", {"kernel_size": [3, 4], "padding": [1, 2]}, (1, 9, 9))


def test_too_small_input_names_the_input_shape() -> None:
    with pytest.raises(NetspecError, match=r"\[3, 2, 2\]"):
        layer("MaxPool2d", kernel_size=3).output_shape((3, 2, 2))


def test_avg_pool_3d_needs_input_as_large_as_kernel() -> None:
    # torch's avg_pool3d alone checks n >= k whatever the padding: (2 + 2 - 3) / 1 + 1 = 2
    # would be a valid size, as AvgPool2d shows.
    assert layer("AvgPool2d", kernel_size=3, stride=1, padding=1).output_shape((1, 2, 2)) == (
        1,
        2,
        2,
    )
    with pytest.raises(NetspecError, match="at least as large as the kernel"):
        layer("AvgPool3d", kernel_size=3, stride=1, padding=1).output_shape((1, 2, 2, 2))
    assert layer("AvgPool3d", kernel_size=3, padding=1).output_shape((1, 3, 3, 3)) == (1, 1, 1, 1)


def test_divisor_override() -> None:
    with pytest.raises(ValueError, match="divisor_override=0"):
        layer("AvgPool2d", kernel_size=2, divisor_override=0)
    assert layer("AvgPool3d", kernel_size=2, divisor_override=-3).divisor_override == -3
    with pytest.raises(ValueError, match="divisor_override"):  # torch's AvgPool1d has none
        layer("AvgPool1d", kernel_size=2, divisor_override=2)


def test_no_return_indices() -> None:
    with pytest.raises(ValueError, match="return_indices"):
        layer("MaxPool2d", kernel_size=2, return_indices=True)


def test_wrong_input_rank_is_rejected() -> None:
    with pytest.raises(NetspecError, match=r"\[C, H, W\]"):
        layer("MaxPool2d", kernel_size=2).output_shape((3, 8))
    with pytest.raises(NetspecError, match=r"\[C, L\]"):
        layer("AdaptiveAvgPool1d", output_size=2).output_shape((3, 8, 8))


def test_global_average_pool() -> None:
    pool = layer("AdaptiveAvgPool2d", output_size=1)
    assert pool.output_shape((512, 7, 7)) == (512, 1, 1)
    rf = pool.receptive_field((AxisRF(Fraction(5), Fraction(2), Fraction(2)),) * 2, (512, 7, 7))
    # the whole axis: r = 5 + 6 * 2 = 17, j = 2 * 7 = 14, start = 2 + 3 * 2 = 8
    assert [(a.size, a.jump, a.start, a.positional) for a in rf] == [(17, 14, 8, False)] * 2


def test_adaptive_pool_null_keeps_the_axis() -> None:
    pool = layer("AdaptiveMaxPool2d", output_size=[None, 3])
    assert pool.output_shape((2, 5, 7)) == (2, 5, 3)
    height, width = pool.receptive_field((AxisRF(), AxisRF()), (2, 5, 7))
    assert (height.size, height.jump, height.start) == (1, 1, 0)
    # 7 -> 3: windows [0, 3), [2, 5), [4, 7): widest 3, mean spacing 7/3, first centre 1.
    # 7 -> 3: windows [0, 3), [2, 5), [4, 7): width 3, step 2, a plain k=3, s=2 window.
    assert (width.size, width.jump, width.start) == (3, 2, 1)


def test_adaptive_pool_uneven_windows_bound_the_field() -> None:
    # 5 -> 3: windows [0, 2), [1, 4), [3, 5) of widths 2, 3, 2: no single jump, so each unit
    # is bounded by the whole axis: a k = s = 5 window, size 5, centre 2.
    (axis,) = layer("AdaptiveAvgPool1d", output_size=3).receptive_field((AxisRF(),), (1, 5))
    assert (axis.size, axis.jump, axis.start, axis.positional) == (5, 5, 2, False)
    # 17 -> 2: windows [0, 9) and [8, 17) slide evenly: k = 9, s = 8, centre 4.
    (axis,) = layer("AdaptiveAvgPool1d", output_size=2).receptive_field((AxisRF(),), (1, 17))
    assert (axis.size, axis.jump, axis.start) == (9, 8, 4)
    # 8 -> 4 divides evenly: a window of k = s = 2.
    (axis,) = layer("AdaptiveAvgPool1d", output_size=4).receptive_field((AxisRF(),), (1, 8))
    assert (axis.size, axis.jump, axis.start) == (2, 2, Fraction(1, 2))


def test_adaptive_1d_pools_take_no_null() -> None:
    # torch: "adaptive_avg_pool1d(): argument 'output_size' must be tuple of ints"
    with pytest.raises(ValueError, match="output_size"):
        layer("AdaptiveAvgPool1d", output_size=[None])
    assert layer("AdaptiveAvgPool3d", output_size=[None, 2, None]).output_shape((1, 4, 5, 6)) == (
        1,
        4,
        2,
        6,
    )


# --- the receptive field, seen by gradients ---


def support(module: torch.nn.Module, length: int, unit: int) -> tuple[int, int]:
    """First and last input positions with a non-zero gradient for output ``unit``."""
    x = torch.rand(1, 1, length, dtype=torch.float64, requires_grad=True)
    module(x)[0, 0, unit].backward()
    assert x.grad is not None
    nonzero = torch.nonzero(x.grad[0, 0]).flatten().tolist()
    return nonzero[0], nonzero[-1]


@settings(max_examples=25, deadline=None)
@given(
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    pad_fraction=st.floats(0, 1),
    length=st.integers(5, 16),
)
def test_average_pool_field_is_its_gradient_support(
    kernel: int, stride: int, pad_fraction: float, length: int
) -> None:
    padding = int(pad_fraction * (kernel // 2))
    pool = layer("AvgPool1d", kernel_size=kernel, stride=stride, padding=padding)
    out = pool.output_shape((1, length))[1]
    (axis,) = pool.receptive_field((AxisRF(),), (1, length))
    module = torch.nn.AvgPool1d(kernel, stride, padding)
    for unit in range(out):
        centre = axis.start + unit * axis.jump
        low, high = centre - (axis.size - 1) / 2, centre + (axis.size - 1) / 2
        assert support(module, length, unit) == (max(low, 0), min(high, length - 1))


@settings(max_examples=25, deadline=None)
@given(out=st.integers(1, 9), length=st.integers(1, 16))
def test_adaptive_average_field_bounds_its_gradient_support(out: int, length: int) -> None:
    pool = layer("AdaptiveAvgPool1d", output_size=out)
    (axis,) = pool.receptive_field((AxisRF(),), (1, length))
    module = torch.nn.AdaptiveAvgPool1d(out)
    for unit in range(out):
        first, last = support(module, length, unit)
        assert last - first + 1 <= axis.size
    first, last = support(module, length, 0)
    if axis.positional:  # evenly sliding windows: the first unit's window is exact
        assert first == axis.start - (last - first) / 2
