"""Dropout layers against torch: shapes and counts, ranks, and torch's verdict on ``p``."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import netspec
from netspec.core.errors import NetspecError
from netspec.layers.registry import kind_of
from tests.torch_check import assert_matches_torch, assert_same_verdict, torch_accepts

KINDS = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"]
CHANNEL_DIMS = {"Dropout1d": 2, "Dropout3d": 4}  # the sample dims they require


def shape_of(dims: tuple[int, ...] = (1, 2, 3, 4, 5)) -> st.SearchStrategy[tuple[int, ...]]:
    return st.sampled_from(dims).flatmap(
        lambda n: st.lists(st.integers(1, 4), min_size=n, max_size=n).map(tuple)
    )


def analyse(kind: str, args: dict[str, float], in_shape: tuple[int, ...]) -> netspec.LayerReport:
    spec = netspec.load({"input": list(in_shape), "layers": [{kind: args}]})
    return netspec.analyze(spec).layers[0]


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=10, deadline=None)
@given(data=st.data(), p=st.floats(0, 1), inplace=st.booleans())
def test_valid_dropout_matches_torch(
    kind: str, data: st.DataObject, p: float, inplace: bool
) -> None:
    shape = data.draw(shape_of((CHANNEL_DIMS[kind],)) if kind in CHANNEL_DIMS else shape_of())
    assert_matches_torch(kind_of(kind).model_validate({"p": p, "inplace": inplace}), shape)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), p=st.sampled_from([-0.5, 0, 0.3, 1, 1.0, 1.5]))
def test_dropout_verdicts(kind: str, data: st.DataObject, p: float) -> None:
    # Deliberate difference, tested below: where torch reads the batch as one unbatched input
    # (Dropout1d one dim short, Dropout3d on any other rank) it drops whole samples.
    ranks = {"Dropout1d": (2, 3, 4, 5), "Dropout3d": (4,)}.get(kind, (1, 2, 3, 4, 5))
    assert_same_verdict(kind, {"p": p}, data.draw(shape_of(ranks)))


def test_dropout_has_nothing_to_count() -> None:
    row = analyse("Dropout", {"p": 0.5}, (4096,))
    assert (row.out_shape, row.params, row.buffers, row.macs) == ((4096,), 0, 0, 0)


def test_p_outside_zero_one_is_refused_with_its_value() -> None:
    with pytest.raises(NetspecError, match=r"between 0 and 1; received p=1.5") as error:
        analyse("Dropout2d", {"p": 1.5}, (8, 4, 4))
    assert error.value.problems[0].path == ("layers", 0, "Dropout2d", "p")


def test_dropout2d_takes_any_rank_as_torch_does() -> None:
    # torch warns on ranks other than [C, H, W] but always reads dim 1 as the channels.
    for shape in [(8,), (8, 5), (8, 5, 5), (8, 2, 5, 5)]:
        assert torch_accepts("Dropout2d", {}, shape)
        assert analyse("Dropout2d", {}, shape).out_shape == shape


def test_channel_dropout_on_the_wrong_rank_would_drop_whole_samples() -> None:
    # Dropout3d on a batch [N, C, H, W] reads it as one unbatched [C', D, H, W]: the "channels"
    # it zeroes are the samples.
    torch.manual_seed(0)
    out = torch.nn.Dropout3d(0.5).train()(torch.ones(64, 3, 2, 2))
    per_sample = out.flatten(1)
    assert all(row.eq(0).all() or row.ne(0).all() for row in per_sample)
    assert torch_accepts("Dropout3d", {}, (3, 2, 2))
    with pytest.raises(NetspecError, match=r"drop whole samples instead of channels"):
        analyse("Dropout3d", {}, (3, 2, 2))
    with pytest.raises(NetspecError, match=r"\[C, L\] \(2 dims\); received \[8\]"):
        analyse("Dropout1d", {}, (8,))
    with pytest.raises(NetspecError, match=r"torch refuses it"):
        analyse("Dropout1d", {}, (8, 4, 4))


def test_channel_dropout_on_its_rank() -> None:
    assert analyse("Dropout1d", {"p": 0.1}, (16, 100)).out_shape == (16, 100)
    assert analyse("Dropout3d", {}, (4, 3, 8, 8)).out_shape == (4, 3, 8, 8)
