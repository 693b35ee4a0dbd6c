"""``Permute``, ``ChannelShuffle``, ``Chunk`` and ``Narrow`` against torch's own operations
(``x.permute``, ``nn.ChannelShuffle``, ``torch.chunk``, ``torch.narrow`` on the batch), and their
receptive fields, worked by hand and confirmed by gradients."""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import netspec
from netspec.core.errors import NetspecError
from tests.gradient_support import confirm_windows, observed, positive_linear

shapes = st.integers(1, 4).flatmap(
    lambda dims: st.lists(st.integers(1, 7), min_size=dims, max_size=dims).map(tuple)
)


def one(kind: str, args: dict[str, Any], shape: tuple[int, ...]) -> netspec.Spec:
    return netspec.load({"name": kind, "input": list(shape), "layers": [{kind: args}]})


def verdict(kind: str, args: dict[str, Any], shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """netspec's output shape, or None when it refuses; and the built module agrees."""
    try:
        s = one(kind, args, shape)
        out = netspec.analyze(s).output_shape
    except NetspecError:
        return None
    row = netspec.analyze(s).layers[0]
    assert (row.params, row.buffers, row.macs) == (0, 0, 0)
    model = netspec.build(s)
    x = torch.randn(2, *shape)
    assert tuple(model(x).shape[1:]) == out
    assert sum(p.numel() for p in model.parameters()) == 0
    return out


def torch_shape(op: Any) -> tuple[int, ...] | None:
    try:
        y = op()
    except (RuntimeError, IndexError, ValueError):
        return None
    return tuple(y.shape[1:]) if y.numel() else None


@settings(max_examples=60, deadline=None)
@given(shape=shapes, data=st.data())
def test_permute_is_torch_permute_without_the_batch(shape: tuple[int, ...],
                                                    data: st.DataObject) -> None:
    dims = data.draw(st.permutations(range(len(shape))))
    dims = [d - data.draw(st.sampled_from([0, len(shape)])) for d in dims]  # negative too
    x = torch.randn(2, *shape)
    expected = x.permute(0, *(d % len(shape) + 1 for d in dims))
    model = netspec.build(one("Permute", {"dims": dims}, shape))
    assert torch.equal(model(x), expected)
    assert verdict("Permute", {"dims": dims}, shape) == tuple(expected.shape[1:])


@pytest.mark.parametrize("dims", [[0, 0, 1], [0, 1], [0, 1, 3], [-4, 0, 1]])
def test_permute_needs_each_dim_once(dims: list[int]) -> None:
    with pytest.raises(NetspecError, match="dims"):
        netspec.analyze(one("Permute", {"dims": dims}, (2, 3, 4)))


@settings(max_examples=60, deadline=None)
@given(shape=shapes, groups=st.integers(1, 6))
def test_channel_shuffle_is_torchs(shape: tuple[int, ...], groups: int) -> None:
    x = torch.randn(1, *shape)
    assert verdict("ChannelShuffle", {"groups": groups}, shape) == torch_shape(
        lambda: nn.ChannelShuffle(groups)(x))
    if shape[0] % groups == 0 and len(shape) > 1:
        model = netspec.build(one("ChannelShuffle", {"groups": groups}, shape))
        assert torch.equal(model(x), nn.ChannelShuffle(groups)(x))


def test_channel_shuffle_interleaves_the_groups() -> None:
    """Channels 0..7 in 2 groups [0 1 2 3 | 4 5 6 7] come out 0 4 1 5 2 6 3 7 (by hand)."""
    model = netspec.build(one("ChannelShuffle", {"groups": 2}, (8, 1)))
    out = model(torch.arange(8.0).reshape(1, 8, 1))
    assert out.flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    with pytest.raises(NetspecError, match="multiple of groups"):
        netspec.analyze(one("ChannelShuffle", {"groups": 3}, (8, 4)))


@settings(max_examples=80, deadline=None)
@given(shape=shapes, chunks=st.integers(1, 8), index=st.integers(0, 8), data=st.data())
def test_chunk_is_torch_chunk(shape: tuple[int, ...], chunks: int, index: int,
                              data: st.DataObject) -> None:
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    x = torch.randn(2, *shape)
    batched = dim % len(shape) + 1 if -len(shape) <= dim < len(shape) else 99
    expected = torch_shape(lambda: torch.chunk(x, chunks, batched)[index])
    args = {"chunks": chunks, "index": index, "dim": dim}
    assert verdict("Chunk", args, shape) == expected
    if expected is not None:
        model = netspec.build(one("Chunk", args, shape))
        assert torch.equal(model(x), torch.chunk(x, chunks, batched)[index])


def test_chunk_follows_torch_when_fewer_pieces_fit() -> None:
    """torch.chunk(10 values, 4): pieces of ceil(10/4) = 3: 3, 3, 3, 1; (5, 4): 2, 2, 1, so
    index 3 does not exist (by hand from torch's documented rule)."""
    sizes = [netspec.analyze(one("Chunk", {"chunks": 4, "index": i}, (10, 2))).output_shape[0]
             for i in range(4)]
    assert sizes == [3, 3, 3, 1]
    with pytest.raises(NetspecError, match=r"3 pieces \[2, 2, 1\]") as caught:
        netspec.analyze(one("Chunk", {"chunks": 4, "index": 3}, (5, 2)))
    assert caught.value.problems[0].path[-1] == "index"


@settings(max_examples=80, deadline=None)
@given(shape=shapes, start=st.integers(-8, 8), length=st.integers(1, 8), data=st.data())
def test_narrow_is_torch_narrow(shape: tuple[int, ...], start: int, length: int,
                                data: st.DataObject) -> None:
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = torch.randn(2, *shape)
    batched = dim % len(shape) + 1
    expected = torch_shape(lambda: torch.narrow(x, batched, start, length))
    args = {"dim": dim, "start": start, "length": length}
    assert verdict("Narrow", args, shape) == expected
    if expected is not None:
        model = netspec.build(one("Narrow", args, shape))
        assert torch.equal(model(x), torch.narrow(x, batched, start, length))


# --- receptive fields ---


def conv(**args: Any) -> dict[str, Any]:
    return {"Conv2d": {"out_channels": 4, "kernel_size": 3, **args}}


def test_channels_last_keeps_the_field_of_each_spatial_axis() -> None:
    """ConvNeXt's channels-last LayerNorm and Linear act per position: a 3x3 conv (field 3,
    start 1) then Permute [1, 2, 0], LayerNorm, Linear, Permute [2, 0, 1] leaves field 3, start 1
    (a Linear over the last dim would otherwise make the W axis whole)."""
    s = netspec.load({"input": [2, 9, 9], "layers": [
        conv(), {"Permute": {"dims": [1, 2, 0]}}, "LayerNorm", {"Linear": {"out_features": 6}},
        {"Permute": {"dims": [2, 0, 1]}}, conv(padding=1)]})
    rows = netspec.analyze(s).top_level()
    assert [(a.size, a.jump, a.start) for a in rows[4].rf] == [(3, 1, 1)] * 2
    assert [(a.size, a.jump, a.start) for a in rows[5].rf] == [(5, 1, 1)] * 2
    assert rows[3].out_shape == (7, 7, 6)
    assert confirm_windows(s)


def test_permute_swaps_the_fields_of_swapped_axes() -> None:
    """A 3x1 conv (field 3 along H, 1 along W), then H and W swapped: the fields swap too.
    Measured: unit (i, j) of the swapped map reads input rows j..j+2 of column i. (The gradient
    harness pairs output and input axes by position, so this case is checked here directly.)"""
    s = netspec.load({"input": [1, 8, 6], "layers": [
        conv(kernel_size=[3, 1]), {"Permute": {"dims": [0, 2, 1]}}]})
    rows = netspec.analyze(s).top_level()
    assert [a.size for a in rows[1].rf] == [1, 3]
    assert rows[1].out_shape == (4, 6, 6)
    model = positive_linear(netspec.build(s, device="meta"))
    x = torch.ones(1, 1, 8, 6, dtype=torch.float64, requires_grad=True)
    for i, j in [(0, 0), (2, 5), (5, 3)]:
        (grad,) = torch.autograd.grad(model(x)[0, :, i, j].sum(), x)
        rows_seen, columns_seen = observed(grad).nonzero(as_tuple=True)
        assert sorted(set(rows_seen.tolist())) == [j, j + 1, j + 2]
        assert set(columns_seen.tolist()) == {i}


@pytest.mark.parametrize("first", list(itertools.permutations(range(3))))
def test_any_permute_and_back_restores_the_field(first: tuple[int, ...]) -> None:
    back = [first.index(d) for d in range(3)]
    s = netspec.load({"input": [2, 7, 5], "layers": [
        conv(stride=2), {"Permute": {"dims": list(first)}}, {"Permute": {"dims": back}}]})
    rows = netspec.analyze(s).top_level()
    assert rows[2].rf == rows[0].rf and rows[2].out_shape == rows[0].out_shape


def test_shuffle_and_channel_split_keep_the_field() -> None:
    s = netspec.load({"input": [2, 9, 9], "layers": [
        conv(), {"ChannelShuffle": {"groups": 2}}, {"Chunk": {"chunks": 2, "index": 1}},
        conv()]})
    rows = netspec.analyze(s).top_level()
    assert rows[2].rf == rows[1].rf == rows[0].rf
    assert confirm_windows(s)


def test_a_spatial_slice_moves_the_centre() -> None:
    """3x3 stride-2 conv on 13: field 3, jump 2, start 1, 6 units. Narrow W from unit 2: the
    first unit is unit 2, centre 1 + 2*2 = 5. Chunk H in 2 (3 + 3), index 1: centre 1 + 3*2 = 7.
    """
    s = netspec.load({"input": [1, 13, 13], "layers": [
        conv(stride=2), {"Narrow": {"dim": 2, "start": 2, "length": 3}},
        {"Chunk": {"chunks": 2, "index": 1, "dim": 1}}, conv(padding=1)]})
    rows = netspec.analyze(s).top_level()
    assert [(a.size, a.jump, a.start) for a in rows[2].rf] == [
        (3, 2, Fraction(7)), (3, 2, Fraction(5))]
    assert confirm_windows(s)
