"""Upsample against torch: sizes, modes, the same accept/reject verdict, receptive fields."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec
from netspec.core.errors import NetspecError
from netspec.core.shapes import AxisRF
from netspec.layers.registry import kind_of
from tests.torch_check import assert_matches_torch, assert_same_verdict

# The spatial axes each mode accepts, as torch's F.interpolate does.
MODES = {
    "nearest": (1, 2, 3),
    "nearest-exact": (1, 2, 3),
    "linear": (1,),
    "bilinear": (2,),
    "bicubic": (2,),
    "trilinear": (3,),
}
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
MAX_SIDE = {1: 12, 2: 7, 3: 4}
SCALES = st.one_of(
    st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 1 / 3, 0.57, 2.25]),
    st.floats(0.25, 3.0, allow_nan=False),
)


def upsample(**args: Any) -> Any:
    return kind_of("Upsample").model_validate(args)


def per_axis(draw: st.DrawFn, rank: int, values: st.SearchStrategy[Any]) -> Any:
    """A single value or a tuple of one per axis (tuples, as netspec hands them to torch)."""
    if draw(st.booleans()):
        return draw(values)
    return tuple(draw(st.lists(values, min_size=rank, max_size=rank)))


@st.composite
def valid_case(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[int, ...]]:
    mode = draw(st.sampled_from(sorted(MODES)))
    rank = draw(st.sampled_from(MODES[mode]))
    spatial = draw(st.lists(st.integers(2, MAX_SIDE[rank]), min_size=rank, max_size=rank))
    args: dict[str, Any] = {"mode": mode}
    if draw(st.booleans()):
        args["size"] = per_axis(draw, rank, st.integers(1, 2 * MAX_SIDE[rank]))
    else:
        args["scale_factor"] = per_axis(draw, rank, SCALES)
        args["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    if mode in INTERPOLATING:
        args["align_corners"] = draw(st.sampled_from([None, False, True]))
    return args, (draw(st.integers(1, 3)), *spatial)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=valid_case())
def test_valid_upsampling_matches_torch(case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
    args, shape = case
    layer = upsample(**args)
    try:
        layer.output_shape(shape)
    except NetspecError:
        # only a scale that rounds an axis down to nothing; torch must refuse it too
        assert_same_verdict("Upsample", args, shape)
        return
    assert_matches_torch(layer, shape)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_edge_arguments_get_torchs_verdict(data: st.DataObject) -> None:
    rank = data.draw(st.integers(0, 3))
    shape = (2, *data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    length = data.draw(st.sampled_from([rank, rank, 1, 2, 3]))
    args: dict[str, Any] = {}
    if data.draw(st.booleans()):
        sizes = st.integers(0, 6)
        args["size"] = data.draw(
            st.one_of(sizes, st.lists(sizes, min_size=length, max_size=length).map(tuple))
        )
    if data.draw(st.booleans()):
        scales = st.sampled_from([-1.0, 0.0, 0.1, 0.3, 0.5, 1.0, 1.5, 2.0, 2.5])
        args["scale_factor"] = data.draw(
            st.one_of(scales, st.lists(scales, min_size=length, max_size=length).map(tuple))
        )
    args["mode"] = data.draw(st.sampled_from(sorted(MODES)))
    for key in ("align_corners", "recompute_scale_factor"):
        value = data.draw(st.sampled_from([None, False, True]))
        if value is not None:
            args[key] = value
    assert_same_verdict("Upsample", args, shape)


# --- hand-worked examples ---


def test_doubling() -> None:
    layer = upsample(scale_factor=2)
    assert layer.output_shape((3, 4, 5)) == (3, 8, 10)
    assert layer.output_shape((3, 4)) == (3, 8)
    assert layer.output_shape((3, 2, 3, 4)) == (3, 4, 6, 8)
    assert layer.parameter_count((3, 4, 5)) == 0
    assert layer.macs((3, 4, 5), (3, 8, 10)) == 0


def test_explicit_size_and_per_axis_scales() -> None:
    assert upsample(size=[7, 9], mode="bilinear").output_shape((3, 4, 5)) == (3, 7, 9)
    assert upsample(size=6).output_shape((3, 4, 5)) == (3, 6, 6)
    # floor(4 * 1.5) = 6, floor(5 * 2.5) = 12
    assert upsample(scale_factor=[1.5, 2.5]).output_shape((3, 4, 5)) == (3, 6, 12)


def test_output_size_is_the_floor_of_a_double_product() -> None:
    # 100 * 0.57 is 56.99999999999999 in doubles, so torch gives 56, not 57.
    assert 100 * 0.57 < 57
    assert upsample(scale_factor=0.57).output_shape((1, 100)) == (1, 56)
    assert torch.nn.Upsample(scale_factor=0.57)(torch.zeros(1, 1, 100)).shape[-1] == 56
    # 3 * (1/3) is exactly 1.0, so one output pixel.
    assert upsample(scale_factor=1 / 3).output_shape((1, 3)) == (1, math.floor(3 * (1 / 3)))


def test_scale_that_leaves_nothing_is_rejected() -> None:
    with pytest.raises(NetspecError, match=r"scale_factor=0.1"):
        upsample(scale_factor=0.1).output_shape((3, 4, 5))  # floor(0.4) = 0


def test_exactly_one_of_size_and_scale_factor() -> None:
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        upsample(size=4, scale_factor=2)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        upsample()


def test_align_corners_only_with_interpolating_modes() -> None:
    with pytest.raises(ValueError, match="mode='nearest', align_corners=False"):
        upsample(scale_factor=2, align_corners=False)
    with pytest.raises(ValueError, match="mode='nearest-exact'"):
        upsample(scale_factor=2, mode="nearest-exact", align_corners=True)
    assert upsample(scale_factor=2, mode="bicubic", align_corners=True).align_corners


def test_recompute_scale_factor_not_with_size() -> None:
    with pytest.raises(ValueError, match="recompute_scale_factor"):
        upsample(size=4, recompute_scale_factor=True)
    assert upsample(size=4, recompute_scale_factor=False).output_shape((1, 3)) == (1, 4)


def test_mode_must_fit_the_input() -> None:
    with pytest.raises(NetspecError, match=r"mode='linear' expects one sample shaped \[C, L\]"):
        upsample(scale_factor=2, mode="linear").output_shape((3, 4, 5))
    with pytest.raises(NetspecError, match=r"mode='trilinear'"):
        upsample(scale_factor=2, mode="trilinear").output_shape((3, 4, 5))
    with pytest.raises(NetspecError, match=r"mode='nearest'"):
        upsample(scale_factor=2).output_shape((3,))
    with pytest.raises(NetspecError, match=r"one per spatial axis"):
        upsample(size=[4, 4]).output_shape((3, 4, 5, 6))


def test_nearest_receptive_field() -> None:
    # Each output pixel copies one input pixel; neighbours are half an input pixel apart.
    rf = upsample(scale_factor=2).receptive_field((AxisRF(), AxisRF()), (3, 4, 5))
    assert [(a.size, a.jump, a.start) for a in rf] == [(1, Fraction(1, 2), 0)] * 2


def test_bilinear_receptive_field_half_pixel_centres() -> None:
    # Two taps: r = 1 + 1; j = 1/2; output 0 sits at (0 + 0.5) / 2 - 0.5 = -1/4.
    rf = upsample(scale_factor=2, mode="bilinear").receptive_field((AxisRF(), AxisRF()), (3, 4, 5))
    assert [(a.size, a.jump, a.start) for a in rf] == [(2, Fraction(1, 2), Fraction(-1, 4))] * 2


def test_bicubic_align_corners_receptive_field() -> None:
    # Four taps: r = 1 + 3; with align_corners the scale is (7 - 1) / (4 - 1) = 2, output 0
    # sits on input 0.
    layer = upsample(size=7, mode="bicubic", align_corners=True)
    rf = layer.receptive_field((AxisRF(), AxisRF()), (3, 4, 4))
    assert [(a.size, a.jump, a.start) for a in rf] == [(4, Fraction(1, 2), 0)] * 2


def test_linear_receptive_field_from_a_size() -> None:
    # size 15 from 5: scale 3, j = 1/3, start = 0 + (1/6 - 1/2) * 1 = -1/3
    layer = upsample(size=15, mode="linear")
    (axis,) = layer.receptive_field((AxisRF(),), (2, 5))
    assert (axis.size, axis.jump, axis.start) == (2, Fraction(1, 3), Fraction(-1, 3))


def test_nearest_exact_downscale_copies_the_second_pixel() -> None:
    # torch: output o copies input floor((o + 1/2) / scale); at scale 1/2 that is 2o + 1, so
    # unit 0 sits on pixel 1 and units are 2 pixels apart.
    layer = upsample(scale_factor=0.5, mode="nearest-exact")
    (axis,) = layer.receptive_field((AxisRF(),), (1, 8))
    assert (axis.size, axis.jump, axis.start) == (1, 2, 1)
    x = torch.arange(8.0).reshape(1, 1, 8)
    assert torch.nn.Upsample(scale_factor=0.5, mode="nearest-exact")(x).flatten().tolist() == [
        1.0, 3.0, 5.0, 7.0
    ]


# --- the sample points, read off torch's interpolation of a ramp ---

RAMP_CASES = [
    # (mode, input length or lengths, arguments)
    pytest.param("linear", (5,), {"scale_factor": 1.5}, id="x1.5 as given: x = (o+1/2)/1.5-1/2"),
    pytest.param("linear", (5,), {"scale_factor": 1.5, "recompute_scale_factor": True},
                 id="x1.5 recomputed: out 7, x = (o+1/2)*5/7-1/2"),
    pytest.param("linear", (6,), {"size": 9}, id="size 9 from 6: x = (o+1/2)*6/9-1/2"),
    pytest.param("linear", (4,), {"scale_factor": 2.5, "align_corners": True},
                 id="align_corners 4 to 10: x = o*3/9"),
    pytest.param("linear", (1,), {"size": 4, "align_corners": True},
                 id="align_corners from 1 pixel: every x = 0"),
    pytest.param("linear", (2,), {"size": 5, "align_corners": True},
                 id="align_corners 2 to 5: x = o/4"),
    pytest.param("linear", (3,), {"size": 2, "align_corners": True},
                 id="align_corners 3 to 2: x = 2o"),
    pytest.param("linear", (3,), {"size": 1, "align_corners": True},
                 id="align_corners 3 to 1: x = 0"),
    pytest.param("linear", (3,), {"size": 1}, id="3 to 1 half-pixel: x = 3/2-1/2 = 1"),
    pytest.param("bilinear", (4, 6), {"scale_factor": [2.0, 0.5]},
                 id="bilinear x(2, 0.5) per axis"),
    pytest.param("trilinear", (3, 2, 4), {"size": [6, 5, 4], "align_corners": True},
                 id="trilinear align_corners per axis"),
]


@pytest.mark.parametrize(("mode", "lengths", "args"), RAMP_CASES)
def test_sample_points_are_where_torch_interpolates(
    mode: str, lengths: tuple[int, ...], args: dict[str, Any]
) -> None:
    """Linear interpolation reproduces a ramp: torch's output unit ``o`` of ``f(i) = i`` is its
    sample point ``x(o)``, clamped to ``[0, n - 1]`` at the borders. netspec's field from a
    1-pixel field puts unit ``o`` at ``start + o * jump``: the same points."""
    layer = upsample(mode=mode, **args)
    rank = len(lengths)
    rf = layer.receptive_field(tuple(AxisRF() for _ in range(rank)), (1, *lengths))
    module = torch.nn.Upsample(mode=mode, **{k: tuple(v) if isinstance(v, list) else v
                                             for k, v in args.items()})
    for axis, n in enumerate(lengths):
        shape = [1] * rank
        shape[axis] = n
        ramp = torch.arange(n, dtype=torch.float64).reshape(shape).expand(*lengths)
        out = module(ramp[None, None].contiguous())[0, 0]
        line = out.movedim(axis, 0).reshape(out.shape[axis], -1)[:, 0]
        expected = [min(max(float(rf[axis].start + o * rf[axis].jump), 0.0), n - 1.0)
                    for o in range(line.shape[0])]
        assert line.tolist() == pytest.approx(expected, abs=1e-9), f"axis {axis}"


def test_explain_shape_from_a_size_and_from_scales() -> None:
    assert upsample(size=[7, 9], mode="bilinear").explain_shape((3, 4, 5), (3, 7, 9)) == [
        "H_out = size = 7", "W_out = size = 9"]
    assert upsample(scale_factor=[1.5, 2.5]).explain_shape((3, 4, 5), (3, 6, 12)) == [
        "H_out = floor(4*1.5) = 6", "W_out = floor(5*2.5) = 12"]
    assert upsample(size=3).explain_shape((1, 2, 2, 2), (1, 3, 3, 3)) == [
        "D_out = size = 3", "H_out = size = 3", "W_out = size = 3"]


# --- what a refused Upsample says, and where ---


def refusal(layer: dict[str, Any], shape: list[int]) -> tuple[str, tuple[object, ...]]:
    with pytest.raises(NetspecError) as caught:
        netspec.analyze(netspec.load({"input": shape, "layers": [{"Upsample": layer}]}))
    # the layer's own problem (an input led by a 1 also gets the batch-dimension hint at input:)
    (problem,) = [p for p in caught.value.problems if p.path[:1] == ("layers",)]
    return problem.message, problem.path


def test_refusals_name_the_field_and_the_layouts() -> None:
    message, path = refusal({"scale_factor": 2}, [1, 2, 2, 2, 2])
    assert path == ("layers", 0, "Upsample", "mode")
    assert "expects one sample shaped [C, L] or [C, H, W] or [C, D, H, W]" in message
    message, path = refusal({"size": [4, 4]}, [1, 2])
    assert path == ("layers", 0, "Upsample", "size")
    message, path = refusal({"scale_factor": [2.0, 2.0, 2.0]}, [1, 2, 2])
    assert path == ("layers", 0, "Upsample", "scale_factor")
    message, path = refusal({"scale_factor": 0.1}, [3, 4, 5])
    assert path == ("layers", 0, "Upsample", "scale_factor")
    assert "Upsample output would be [3, 0, 0]" in message


def test_scale_above_two_to_the_48_names_the_limit() -> None:
    with pytest.raises(ValueError, match=r"at most 2\^48 = 281,474,976,710,656; received 1e\+300"):
        upsample(scale_factor=1e300)


def test_a_zero_scale_beside_a_size_is_no_scale() -> None:
    """torch reads scale_factor 0 as not given: the field is that of ``size`` alone."""
    with_zero = upsample(size=6, scale_factor=0, mode="linear")
    alone = upsample(size=6, mode="linear")
    assert with_zero.scale_factors(1) == ()
    assert with_zero.receptive_field((AxisRF(),), (1, 4)) == alone.receptive_field(
        (AxisRF(),), (1, 4))


def test_a_third_is_a_third() -> None:
    """The double 1/3 becomes the fraction 1/3 (denominator at most 10^6): jump exactly 3."""
    (axis,) = upsample(scale_factor=1 / 3).receptive_field((AxisRF(),), (1, 9))
    assert axis.jump == 3


@pytest.mark.parametrize(
    ("mode", "scale", "period"),
    [("nearest", 0.25, 1), ("nearest", 0.5, 1), ("nearest", 2.0, 2), ("nearest", 1.5, 3),
     ("nearest-exact", 0.25, 1), ("nearest-exact", 0.5, 1), ("nearest-exact", 2.0, 2),
     ("nearest-exact", 1.5, 3)],
)
def test_nearest_copies_are_where_the_field_puts_them(mode: str, scale: float, period: int) -> None:
    """Nearest modes copy one input pixel: torch's output of a ramp is the pixel copied. Unit 0
    and every ``period``-th unit after it sit exactly at ``start + o * jump``."""
    n = 16
    (axis,) = upsample(scale_factor=scale, mode=mode).receptive_field((AxisRF(),), (1, n))
    ramp = torch.arange(n, dtype=torch.float64)[None, None]
    copied = torch.nn.Upsample(scale_factor=scale, mode=mode)(ramp)[0, 0].tolist()
    for o in range(0, len(copied), period):
        assert copied[o] == axis.start + o * axis.jump, o
