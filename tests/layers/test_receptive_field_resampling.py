"""Receptive fields after transposed convolutions and every upsampling mode, measured by torch.

Every case starts from a field that is not 1x1: a strided stack (5-wide stride 2 pad 1, then
3-wide stride 2) gives size ``5 + (3 - 1) * 2 = 9``, jump ``2 * 2 = 4`` and start
``(2 - 1) + (1 - 0) * 2 = 3`` per axis (checked below by hand), so a rule that confuses the
incoming size with the incoming jump, or drops the start, shows. ``tests/resampling_support.py``
explains how the gradient pins size, jump and start. Each case states the period ``P`` of its
pattern (the stride, or the numerator of the scale) and whether the layer's docstring makes the
size exact: a transposed convolution when the stride divides ``d(k - 1)`` (some unit then reads
both ends of its window), nearest copies always, interpolation whenever a sample point falls
between input pixels (every case here); otherwise the size is asserted as an upper bound.
"""

from __future__ import annotations

from typing import Any

import pytest

import netspec
from tests.resampling_support import check_field, measure

INPUT = {1: 97, 2: 81, 3: 33}  # 97 -> 48 -> 23, 81 -> 40 -> 19, 33 -> 16 -> 7


def strided_stack(rank: int) -> list[dict[str, Any]]:
    conv = f"Conv{rank}d"
    return [
        {conv: {"out_channels": 2, "kernel_size": 5, "stride": 2, "padding": 1}},
        {conv: {"out_channels": 1, "kernel_size": 3, "stride": 2}},
    ]


def test_the_stack_is_not_a_1x1_field() -> None:
    for rank, n in INPUT.items():
        spec = netspec.load({"input": [1] + [n] * rank, "layers": strided_stack(rank)})
        rf = netspec.analyze(spec).rf
        assert [(a.size, a.jump, a.start) for a in rf] == [(9, 4, 3)] * rank


def transposed(rank: int, **args: Any) -> dict[str, Any]:
    return {f"ConvTranspose{rank}d": {"out_channels": 1, **args}}


def up(**args: Any) -> dict[str, Any]:
    return {"Upsample": args}


CASES = [
    # (rank, layer after the stack, period per axis, size exact per axis)
    pytest.param(1, transposed(1, kernel_size=4, stride=2, padding=1), (2,), (False,),
                 id="ConvTranspose1d k4 s2 p1: 2 does not divide 3, bound"),
    pytest.param(1, transposed(1, kernel_size=3, stride=2), (2,), (True,),
                 id="ConvTranspose1d k3 s2: 2 divides 2, exact"),
    pytest.param(1, transposed(1, kernel_size=5, stride=2, padding=2, output_padding=1), (2,),
                 (True,), id="ConvTranspose1d k5 s2 p2 op1: exact"),
    pytest.param(1, transposed(1, kernel_size=3, stride=3, dilation=2, padding=2), (3,),
                 (False,), id="ConvTranspose1d k3 s3 d2 p2: one tap per unit, bound"),
    pytest.param(1, transposed(1, kernel_size=3, stride=1, padding=1), (1,), (True,),
                 id="ConvTranspose1d k3 s1 p1: exact"),
    pytest.param(2, transposed(2, kernel_size=[3, 4], stride=[2, 3], padding=[0, 1]), (2, 3),
                 (True, True), id="ConvTranspose2d k(3,4) s(2,3) p(0,1): exact"),
    pytest.param(3, transposed(3, kernel_size=[2, 3, 5], stride=2, padding=[0, 1, 2]),
                 (2, 2, 2), (False, True, True),
                 id="ConvTranspose3d k(2,3,5) s2 p(0,1,2): 2 does not divide 1"),
    pytest.param(1, up(scale_factor=2), (2,), (True,), id="nearest x2"),
    pytest.param(1, up(scale_factor=1.5), (3,), (True,), id="nearest x1.5"),
    pytest.param(1, up(size=69), (3,), (True,), id="nearest to size 69 = 23 * 3"),
    pytest.param(1, up(scale_factor=2, mode="nearest-exact"), (2,), (True,),
                 id="nearest-exact x2"),
    pytest.param(1, up(scale_factor=0.5, mode="nearest-exact"), (1,), (True,),
                 id="nearest-exact x0.5: unit o copies floor((o + 1/2) * 2) = 2o + 1"),
    pytest.param(1, up(scale_factor=1.5, mode="nearest-exact"), (3,), (True,),
                 id="nearest-exact x1.5"),
    pytest.param(1, up(scale_factor=2, mode="linear"), (2,), (True,), id="linear x2"),
    pytest.param(1, up(scale_factor=1.5, mode="linear", align_corners=False), (3,), (True,),
                 id="linear x1.5 half-pixel"),
    pytest.param(1, up(size=45, mode="linear", align_corners=True), (2,), (True,),
                 id="linear align_corners 23 to 45: scale 44/22 = 2"),
    pytest.param(2, up(scale_factor=[2, 1.5], mode="bilinear"), (2, 3), (True, True),
                 id="bilinear x(2,1.5)"),
    pytest.param(2, up(size=[37, 55], mode="bilinear", align_corners=True), (2, 3),
                 (True, True), id="bilinear align_corners 19 to (37,55): scales 36/18, 54/18"),
    pytest.param(2, up(scale_factor=2, mode="bicubic"), (2, 2), (True, True), id="bicubic x2"),
    pytest.param(2, up(size=[37, 55], mode="bicubic", align_corners=True), (2, 3),
                 (True, True), id="bicubic align_corners 19 to (37,55)"),
    pytest.param(2, up(scale_factor=[2, 3]), (2, 3), (True, True), id="nearest 2d x(2,3)"),
    pytest.param(3, up(scale_factor=2, mode="trilinear"), (2, 2, 2), (True,) * 3,
                 id="trilinear x2"),
    pytest.param(3, up(size=13, mode="trilinear", align_corners=True), (2, 2, 2), (True,) * 3,
                 id="trilinear align_corners 7 to 13"),
    pytest.param(3, up(scale_factor=[2, 1, 3]), (2, 1, 3), (True,) * 3, id="nearest 3d"),
]


@pytest.mark.parametrize(("rank", "layer", "periods", "exact"), CASES)
def test_field_after_resampling_is_what_torch_reads(
    rank: int, layer: dict[str, Any], periods: tuple[int, ...], exact: tuple[bool, ...]
) -> None:
    spec = netspec.load(
        {"name": "resampled", "input": [1] + [INPUT[rank]] * rank,
         "layers": [*strided_stack(rank), layer]}
    )
    rf = netspec.analyze(spec).rf
    nearest = "Upsample" in layer and layer["Upsample"].get("mode", "nearest").startswith("near")
    problems = []
    for axis in range(rank):
        units = measure(spec, axis)
        assert len(units) >= 2 * periods[axis], "too few units to measure a period"
        problems += [
            f"axis {axis}: {problem}"
            for problem in check_field(rf[axis], units, periods[axis], nearest=nearest,
                                       exact=exact[axis])
        ]
    assert not problems, "\n".join(problems)


def test_a_convolution_after_upsampling() -> None:
    """linear x2 then a 3-wide convolution: units 2m-1..2m+1 of the upsampled row read input
    units m-1..m+1 of the stack, 9 + 2 * 4 = 17 pixels; the analysis gives
    (9 + 4) + (3 - 1) * 4 / 2 = 17."""
    spec = netspec.load(
        {"input": [1, 97],
         "layers": [*strided_stack(1), up(scale_factor=2, mode="linear"),
                    {"Conv1d": {"out_channels": 1, "kernel_size": 3}}]}
    )
    (rf,) = netspec.analyze(spec).rf
    assert rf.size == 17
    assert not check_field(rf, measure(spec, 0), 2, nearest=False, exact=True)
