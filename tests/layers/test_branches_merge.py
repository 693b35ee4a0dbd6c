"""Where ``Parallel`` branches meet: broadcast shapes and fields, paths that see an axis whole,
and the messages of merges that cannot happen.

Shapes come from torch's own modules run in the test; fields are worked out by hand in each
test's docstring (a unit of a path broadcast along an axis is read by every output unit of that
axis, so the axis is no longer positional: it is seen whole).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import torch
from torch import nn

import netspec
from netspec.core.shapes import AxisRF
from netspec.layers import Conv2d
from netspec.layers.base import Layer
from netspec.layers.branches import Parallel
from netspec.layers.registry import registered_class

Entry = Any


def pool(size: Any) -> dict[str, Any]:
    return {"AdaptiveAvgPool2d": {"output_size": size}}


def conv(out: int, k: Any, s: int = 1) -> dict[str, Any]:
    return {"Conv2d": {"out_channels": out, "kernel_size": k, "stride": s}}


def parallel(merge: str, *branches: list[Entry]) -> dict[str, Any]:
    return {"Parallel": {"merge": merge, "branches": list(branches)}}


def analyze(in_shape: list[int], *layers: Entry) -> netspec.Report:
    return netspec.analyze(netspec.load({"input": in_shape, "layers": list(layers)}))


def problem_of(in_shape: list[int], *layers: Entry) -> tuple[tuple[Any, ...], str]:
    with pytest.raises(netspec.NetspecError) as caught:
        analyze(in_shape, *layers)
    first = caught.value.problems[0]
    return tuple(first.path), first.message


WHOLE_2X3 = (AxisRF(Fraction(2), Fraction(1), Fraction(1, 2), False),
             AxisRF(Fraction(3), Fraction(1), Fraction(1), False))


@pytest.mark.parametrize("order", [1, -1])
@pytest.mark.parametrize("merge", ["mul", "add"])
def test_a_broadcast_branch_makes_its_axes_whole(order: int, merge: str) -> None:
    """``x * conv(x)`` on a 2x3 map, the convolution's kernel the whole map: its one unit reads
    all 2x3 pixels (centre (1/2, 1)), and broadcast to 2x3 every output unit reads it. The
    identity path reads one pixel at jump 1; merged, each axis is seen whole: sizes 2 and 3,
    jump 1 (the positional path's), centre the whole window's. Either order of branches."""
    identity: list[Entry] = ["Identity"]
    branches = [identity, [conv(2, [2, 3])]][::order]
    report = analyze([2, 2, 3], parallel(merge, *branches))
    x, full = torch.zeros(1, 2, 2, 3), nn.Conv2d(2, 2, (2, 3))
    assert report.output_shape == tuple((x * full(x) if merge == "mul" else x + full(x)).shape[1:])
    assert report.rf == WHOLE_2X3


def test_broadcast_along_one_axis_only() -> None:
    """``x + pool(x)`` with the pool to 1x4 on a 4x4 map: rows are averaged (the pool's one row
    reads all 4, centre 3/2) and broadcast back; columns stay one pixel wide at jump 1."""
    report = analyze([2, 4, 4], parallel("add", ["Identity"], [pool([1, 4])]))
    x = torch.zeros(1, 2, 4, 4)
    assert report.output_shape == tuple((x + nn.AdaptiveAvgPool2d((1, 4))(x)).shape[1:])
    assert report.rf == (AxisRF(Fraction(4), Fraction(1), Fraction(3, 2), False), AxisRF())


def test_the_positional_paths_jump_survives_two_whole_paths() -> None:
    """``x * a(x) * b(x)`` on a 4x4 map: ``a`` pools the whole map (field 4, centre 3/2);
    ``b`` takes every other pixel (jump 2) before pooling: field 1 + (2 - 1)*2 = 3, centre 1.
    Both broadcast back; the units keep the identity path's spacing (jump 1), the field is the
    widest (4) with the first whole path's centre."""
    report = analyze([2, 4, 4], parallel("mul", ["Identity"], [pool(1)], [conv(2, 1, 2), pool(1)]))
    assert report.rf == (AxisRF(Fraction(4), Fraction(1), Fraction(3, 2), False),) * 2


def test_add_broadcast_message_names_the_branches_so_far() -> None:
    path, message = problem_of([2, 4, 4], parallel("add", ["Identity"], [pool([1, 2])]))
    assert path == ("layers", 0, "Parallel", "branches")
    assert message == (
        "merge: add needs shapes that broadcast (torch's rules: the same number of dims, and "
        "per dim equal sizes or 1); branches[0] gives [2, 4, 4], branches[1] gives [2, 1, 2]")


def test_add_broadcast_message_after_two_branches() -> None:
    """Branches 0 and 1 broadcast together to [2, 4, 4]; branch 2's [2, 2, 1] does not."""
    path, message = problem_of(
        [2, 4, 4], parallel("mul", ["Identity"], [pool([1, 4])], [pool([2, 1])]))
    assert path == ("layers", 0, "Parallel", "branches")
    assert message.startswith("merge: mul needs shapes that broadcast")
    assert message.endswith(
        "branches[0] to [1] together give [2, 4, 4], branches[2] gives [2, 2, 1]")


def test_add_broadcast_message_after_three_branches() -> None:
    _, message = problem_of([2, 4, 4], parallel(
        "add", ["Identity"], ["Identity"], [pool([1, 4])], [pool([2, 1])]))
    assert message.endswith(
        "branches[0] to [2] together give [2, 4, 4], branches[3] gives [2, 2, 1]")


@pytest.mark.parametrize(("branches", "index", "first", "other"), [
    ([[conv(2, 1, 2)], ["Identity"]], 1, [2, 2, 2], [2, 4, 4]),
    ([["Identity"], ["Identity"], [conv(2, 1, 2)]], 2, [2, 4, 4], [2, 2, 2]),
])
def test_concat_message_names_the_branch_that_differs(
    branches: list[list[Entry]], index: int, first: list[int], other: list[int]
) -> None:
    path, message = problem_of([2, 4, 4], parallel("concat", *branches))
    assert path == ("layers", 0, "Parallel", "branches")
    assert message == (f"merge: concat needs the same shape but channels; branches[0] gives "
                       f"{first}, branches[{index}] gives {other}")


def test_concat_adds_channels_as_torch_cat() -> None:
    report = analyze([2, 4, 4], parallel("concat", [conv(3, 1)], ["Identity"], [conv(5, 1)]))
    x = torch.zeros(1, 2, 4, 4)
    expected = torch.cat([nn.Conv2d(2, 3, 1)(x), x, nn.Conv2d(2, 5, 1)(x)], dim=1).shape[1:]
    assert report.output_shape == tuple(expected)


def test_misaligned_branches_message_names_the_kind() -> None:
    """1x1 and 2x2 convolutions, stride 2, on a 4x4 map: both 2x2, jump 2, but their first
    windows are centred on pixel 0 and on 1/2."""
    path, message = problem_of([2, 4, 4], parallel("concat", [conv(2, 1, 2)], [conv(2, 2, 2)]))
    assert path == ("layers", 0, "Parallel")
    assert message == (
        "Parallel merges misaligned receptive fields on spatial axis 0: branches[0] has jump 2 "
        "and centre 0, branches[1] has jump 2 and centre 1/2; match their strides and paddings")


class Unsaid(Layer):
    """A plugin kind (never registered) that does not say what it does to the field."""

    kind = "Unsaid"
    plugin = "tests.layers.test_branches_merge"


def test_a_branch_whose_field_nobody_can_tell_makes_the_merge_unknown() -> None:
    """A 3x3 convolution beside a plugin kind without ``receptive_field``: on every axis the
    merged field is unknown, whatever the convolution sees."""
    layer = Parallel(merge="add", branches=[
        [Conv2d(out_channels=2, kernel_size=3, padding=1)], [Unsaid()]])
    assert layer.receptive_field((AxisRF(),) * 2, (2, 4, 4)) == (AxisRF.unknown(),) * 2
    assert registered_class("Unsaid") is None
