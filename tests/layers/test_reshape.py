"""``Flatten`` and ``Unflatten`` against torch: shapes, dims of the batch, receptive field."""

from __future__ import annotations

from fractions import Fraction
from math import prod
from typing import Any

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import netspec
from netspec.core.errors import NetspecError
from netspec.core.shapes import AxisRF
from netspec.layers.registry import kind_of
from tests.torch_check import assert_matches_torch, assert_same_verdict, torch_accepts

shape_of = st.integers(1, 4).flatmap(
    lambda dims: st.lists(st.integers(1, 6), min_size=dims, max_size=dims).map(tuple)
)


def analyse(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> netspec.LayerReport:
    spec = netspec.load({"input": list(in_shape), "layers": [{kind: args}]})
    return netspec.analyze(spec).layers[0]


def touches_batch(dim: int, rank: int) -> bool:
    return -rank <= dim < rank and dim % rank == 0


@settings(max_examples=40, deadline=None)
@given(shape=shape_of, data=st.data())
def test_flatten_matches_torch(shape: tuple[int, ...], data: st.DataObject) -> None:
    rank = len(shape) + 1
    start = data.draw(st.integers(1, rank - 1))
    end = data.draw(st.integers(start, rank - 1))
    start -= data.draw(st.sampled_from([0, rank]))  # the same dim, counted from the end
    end -= data.draw(st.sampled_from([0, rank]))
    assert_matches_torch(
        kind_of("Flatten").model_validate({"start_dim": start, "end_dim": end}), shape
    )


@settings(max_examples=60, deadline=None)
@given(shape=shape_of, start=st.integers(-6, 6), end=st.integers(-6, 6))
def test_flatten_verdicts(shape: tuple[int, ...], start: int, end: int) -> None:
    rank = len(shape) + 1
    # Deliberate difference, tested below: merging the batch into the sample.
    assume(not (touches_batch(start, rank) and -rank <= end < rank and end % rank > 0))
    assert_same_verdict("Flatten", {"start_dim": start, "end_dim": end}, shape)


@settings(max_examples=40, deadline=None)
@given(shape=shape_of, data=st.data())
def test_unflatten_matches_torch(shape: tuple[int, ...], data: st.DataObject) -> None:
    rank = len(shape) + 1
    dim = data.draw(st.integers(1, rank - 1))
    size = shape[dim - 1]
    factors = [f for f in range(1, size + 1) if size % f == 0]
    first = data.draw(st.sampled_from(factors))
    sizes = [first, size // first]
    if data.draw(st.booleans()):
        sizes[data.draw(st.integers(0, 1))] = -1
    dim -= data.draw(st.sampled_from([0, rank]))
    layer = kind_of("Unflatten").model_validate({"dim": dim, "unflattened_size": sizes})
    assert_matches_torch(layer, shape)


@settings(max_examples=60, deadline=None)
@given(shape=shape_of, dim=st.integers(-6, 6), data=st.data())
def test_unflatten_verdicts(shape: tuple[int, ...], dim: int, data: st.DataObject) -> None:
    rank = len(shape) + 1
    # Deliberate difference, tested below: splitting the batch dimension.
    assume(not touches_batch(dim, rank))
    size = shape[dim % rank - 1] if -rank <= dim < rank else 6
    first = data.draw(st.sampled_from([f for f in range(1, size + 1) if size % f == 0]))
    near = [first, size // first + data.draw(st.sampled_from([0, 0, 1]))]
    if data.draw(st.booleans()):
        near[data.draw(st.integers(0, 1))] = -1
    sizes = data.draw(
        st.one_of(st.just(near), st.lists(st.sampled_from([-2, -1, 0, 1, 2, 3, 4, 6]), max_size=3))
    )
    assert_same_verdict("Unflatten", {"dim": dim, "unflattened_size": sizes}, shape)


def test_flatten_lenet_features() -> None:
    # 16 * 5 * 5 = 400, no parameters.
    row = analyse("Flatten", {}, (16, 5, 5))
    assert (row.out_shape, row.params, row.macs) == ((400,), 0, 0)


def test_flatten_from_dim_2_keeps_channels() -> None:
    # [N, 64, 7, 7].flatten(2) -> [N, 64, 49]: tokens for attention.
    assert analyse("Flatten", {"start_dim": 2}, (64, 7, 7)).out_shape == (64, 49)
    assert analyse("Flatten", {"start_dim": 1, "end_dim": 2}, (64, 7, 7)).out_shape == (448, 7)
    assert analyse("Flatten", {"start_dim": 2, "end_dim": 2}, (64, 7, 7)).out_shape == (64, 7, 7)


def test_flatten_dims_count_the_batch() -> None:
    with pytest.raises(NetspecError, match=r"start_dim must be in \[-4, 3\]") as error:
        analyse("Flatten", {"start_dim": 4}, (16, 5, 5))
    assert error.value.problems[0].path == ("layers", 0, "Flatten", "start_dim")
    with pytest.raises(NetspecError, match="start_dim cannot come after end_dim"):
        analyse("Flatten", {"start_dim": 3, "end_dim": 2}, (16, 5, 5))


def test_flatten_refuses_to_merge_the_batch() -> None:
    # torch on a batch of one gives [400]: the batch dimension is gone.
    assert torch.nn.Flatten(0)(torch.randn(1, 16, 5, 5)).shape == (400,)
    assert torch_accepts("Flatten", {"start_dim": 0}, (16, 5, 5))
    with pytest.raises(NetspecError, match="start_dim=0 is the batch dimension"):
        analyse("Flatten", {"start_dim": 0}, (16, 5, 5))
    # Flattening dim 0 alone changes nothing, as in torch.
    assert analyse("Flatten", {"start_dim": 0, "end_dim": 0}, (16, 5, 5)).out_shape == (16, 5, 5)


def test_unflatten_sizes_and_inferred_size() -> None:
    # 784 = 16 * 7 * 7; -1 is inferred as 784 / 16 = 49.
    assert analyse("Unflatten", {"dim": 1, "unflattened_size": [16, 7, 7]}, (784,)).out_shape == (
        16,
        7,
        7,
    )
    assert analyse("Unflatten", {"dim": -1, "unflattened_size": [16, -1]}, (784,)).out_shape == (
        16,
        49,
    )
    assert analyse("Unflatten", {"dim": 2, "unflattened_size": [2, 3]}, (4, 6)).out_shape == (
        4,
        2,
        3,
    )


def test_unflatten_errors_name_the_sizes() -> None:
    with pytest.raises(NetspecError, match=r"received \[16, 7, 8\]: their product is 896"):
        analyse("Unflatten", {"dim": 1, "unflattened_size": [16, 7, 8]}, (784,))
    with pytest.raises(NetspecError, match=r"784 is not a multiple of 15"):
        analyse("Unflatten", {"dim": 1, "unflattened_size": [15, -1]}, (784,))
    with pytest.raises(NetspecError, match="only one size can be -1"):
        analyse("Unflatten", {"dim": 1, "unflattened_size": [-1, -1]}, (784,))
    with pytest.raises(NetspecError, match="dim=0 is the batch dimension"):
        analyse("Unflatten", {"dim": 0, "unflattened_size": [1, -1]}, (784,))


def test_flatten_receptive_field_marks_merged_axes_whole() -> None:
    # After a 5x5 conv (size 5, jump 1), Flatten of [6, 24, 24]: whole over 24 positions is
    # 5 + (24 - 1) * 1 = 28 pixels on each axis.
    spec = netspec.load(
        {
            "input": [1, 28, 28],
            "layers": [{"Conv2d": {"out_channels": 6, "kernel_size": 5}}, "Flatten"],
        }
    )
    rf = netspec.analyze(spec).rf
    assert [(axis.size, axis.positional) for axis in rf] == [(Fraction(28), False)] * 2


def test_partial_flatten_leaves_the_unmerged_axis_unknown() -> None:
    """[3, 8, 9] -> [24, 9]: H, merged with the channels, is seen whole (1 + (8-1)*1 = 8);
    W keeps its place in the tensor, but [24, 9] has no column per dim any more (two columns,
    two dims, no channel marker), so no later layer could follow it: unknown, not a 1-pixel
    field that a later convolution along W would leave at 1."""
    layer = kind_of("Flatten").model_validate({"start_dim": 1, "end_dim": 2})
    rf = layer.receptive_field((AxisRF(), AxisRF()), (3, 8, 9))
    assert (rf[0].size, rf[0].positional, rf[1]) == (Fraction(8), False, AxisRF.unknown())
    # Merging nothing changes nothing.
    same = kind_of("Flatten").model_validate({"start_dim": 2, "end_dim": 2})
    assert same.receptive_field((AxisRF(), AxisRF()), (3, 8, 9)) == (AxisRF(), AxisRF())


def test_unflatten_receptive_field() -> None:
    """Splitting W (12 -> 3 x 4) loses its positions: whole, 12. Any split leaves the sample
    without a column per dim ([8, 5, 3, 4] has two columns), so the axes not split are
    unknown: H there, and both when the channels are split ([2, 4, 5, 12])."""
    channels = kind_of("Unflatten").model_validate({"dim": 1, "unflattened_size": [2, 4]})
    unknown = AxisRF.unknown()
    assert channels.receptive_field((AxisRF(), AxisRF()), (8, 5, 12)) == (unknown, unknown)
    width = kind_of("Unflatten").model_validate({"dim": 3, "unflattened_size": [3, 4]})
    rf = width.receptive_field((AxisRF(), AxisRF()), (8, 5, 12))
    assert (rf[0], rf[1].size, rf[1].positional) == (unknown, Fraction(12), False)
    # Nothing split ([12] -> [12]): nothing changes.
    one = kind_of("Unflatten").model_validate({"dim": 3, "unflattened_size": [12]})
    assert one.receptive_field((AxisRF(), AxisRF()), (8, 5, 12)) == (AxisRF(), AxisRF())


def test_round_trip_through_flatten_and_unflatten() -> None:
    spec = netspec.load(
        {
            "input": [16, 5, 5],
            "layers": ["Flatten", {"Unflatten": {"dim": 1, "unflattened_size": [16, 5, 5]}}],
        }
    )
    report = netspec.analyze(spec)
    assert report.output_shape == (16, 5, 5)
    assert prod(report.layers[0].out_shape) == 400
