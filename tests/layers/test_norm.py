"""Normalisation layers against torch: shapes, parameters, buffers, MACs, and torch's verdict."""

from __future__ import annotations

from math import prod
from typing import Any

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import netspec
from netspec.core.errors import NetspecError
from netspec.layers.registry import kind_of
from tests.torch_check import assert_matches_torch, assert_same_verdict, torch_accepts

BATCH_NORMS = {"BatchNorm1d": (1, 2), "BatchNorm2d": (3,), "BatchNorm3d": (4,)}
INSTANCE_NORMS = {"InstanceNorm1d": 2, "InstanceNorm2d": 3, "InstanceNorm3d": 4}  # sample dims
SIDE = {1: 6, 2: 6, 3: 5, 4: 4, 5: 3}

shape_of = st.integers(1, 5).flatmap(
    lambda dims: st.lists(st.integers(1, SIDE[dims]), min_size=dims, max_size=dims).map(tuple)
)


def shape_with(dims: int, least: int = 1) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(least, SIDE[dims]), min_size=dims, max_size=dims).map(tuple)


def analyse(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> netspec.LayerReport:
    spec = netspec.load({"input": list(in_shape), "layers": [{kind: args}]})
    return netspec.analyze(spec).layers[0]


# --- valid arguments: every number equals torch's ---


@pytest.mark.parametrize("kind", [*BATCH_NORMS, *INSTANCE_NORMS])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_batch_and_instance_norm_match_torch(kind: str, data: st.DataObject) -> None:
    full = INSTANCE_NORMS.get(kind, 0)
    dims = data.draw(st.sampled_from(BATCH_NORMS.get(kind) or (full - 1, full)))
    shape = data.draw(shape_with(dims))
    args = {
        "eps": data.draw(st.sampled_from([1e-5, 1e-3, 0.5])),
        "momentum": data.draw(st.sampled_from([0.1, 0.9, None])),
        "affine": data.draw(st.booleans()),
        "track_running_stats": data.draw(st.booleans()),
        "bias": data.draw(st.booleans()),
    }
    if data.draw(st.booleans()):
        args["num_features"] = shape[0]
    if kind in BATCH_NORMS:
        # One value per channel: a batch of one gives no statistics (a batch of two does).
        assume(prod(shape[1:]) > 1 or args["track_running_stats"])
    elif dims == full - 1:
        # One dim short, read by torch as unbatched: taken only without per-channel tensors.
        args["affine"] = args["track_running_stats"] = False
        assume(prod(shape) > 1)
    else:
        assume(prod(shape[1:]) > 1)
    assert_matches_torch(kind_of(kind).model_validate(args), shape)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_group_norm_matches_torch(data: st.DataObject) -> None:
    groups = data.draw(st.integers(1, 4))
    shape = (groups * data.draw(st.integers(1, 3)), *data.draw(shape_of)[1:])
    assume(shape[0] // groups * prod(shape[1:]) > 1)
    args = {
        "num_groups": groups,
        "eps": 1e-3,
        "affine": data.draw(st.booleans()),
        "bias": data.draw(st.booleans()),
    }
    assert_matches_torch(kind_of("GroupNorm").model_validate(args), shape)


@settings(max_examples=30, deadline=None)
@given(shape=shape_of, data=st.data())
def test_layer_norm_matches_torch(shape: tuple[int, ...], data: st.DataObject) -> None:
    trailing = data.draw(st.integers(0, len(shape)))
    args: dict[str, Any] = {
        "elementwise_affine": data.draw(st.booleans()),
        "bias": data.draw(st.booleans()),
    }
    if trailing:  # else the default: the last dim
        written = list(shape[len(shape) - trailing :])
        args["normalized_shape"] = (
            written[0] if trailing == 1 and data.draw(st.booleans()) else written
        )
    assert_matches_torch(kind_of("LayerNorm").model_validate(args), shape)


@settings(max_examples=20, deadline=None)
@given(shape=shape_of.filter(lambda s: len(s) >= 2), size=st.integers(1, 7))
def test_local_response_norm_matches_torch(shape: tuple[int, ...], size: int) -> None:
    layer = kind_of("LocalResponseNorm").model_validate({"size": size, "k": 2, "beta": 0.5})
    assert_matches_torch(layer, shape)


# --- often-invalid arguments: netspec accepts exactly what torch accepts ---


@pytest.mark.parametrize("kind", [*BATCH_NORMS, *INSTANCE_NORMS])
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_batch_and_instance_norm_verdicts(kind: str, data: st.DataObject) -> None:
    full = INSTANCE_NORMS.get(kind, 0)
    own = st.sampled_from(BATCH_NORMS.get(kind) or (full - 1, full))
    shape = data.draw(st.one_of(own, st.integers(1, 5)).flatmap(shape_with))
    args = {
        "eps": data.draw(st.sampled_from([1e-5, 0.1, -1.0])),
        "affine": data.draw(st.booleans()),
        "track_running_stats": data.draw(st.booleans()),
    }
    if kind in INSTANCE_NORMS:
        # Deliberate differences, tested below. One dim short, torch reads the batch as
        # unbatched: with affine or running statistics it runs only when N equals C, here 1.
        per_channel = args["affine"] or args["track_running_stats"]
        assume(not (len(shape) == INSTANCE_NORMS[kind] - 1 and per_channel and shape[0] == 1))
        # A single spatial position: torch refuses it in training, accepts it in eval mode
        # with running statistics.
        assume(prod(shape[1:]) > 1 or not args["track_running_stats"])
    else:
        # torch refuses single-value statistics for a batch of one only; larger batches work.
        assume(prod(shape[1:]) > 1 or args["track_running_stats"])
    assert_same_verdict(kind, args, shape)


@settings(max_examples=40, deadline=None)
@given(shape=shape_of, groups=st.integers(1, 7), affine=st.booleans())
def test_group_norm_verdicts(shape: tuple[int, ...], groups: int, affine: bool) -> None:
    assert_same_verdict("GroupNorm", {"num_groups": groups, "affine": affine}, shape)


@settings(max_examples=40, deadline=None)
@given(shape=shape_of, data=st.data())
def test_layer_norm_verdicts(shape: tuple[int, ...], data: st.DataObject) -> None:
    normalized = data.draw(
        st.one_of(
            st.integers(1, 6),
            st.lists(st.integers(1, 6), min_size=1, max_size=len(shape)),
            st.just(list(shape[1:]) or [1]),
        )
    )
    # A normalized_shape longer than the sample would include the batch dim: netspec refuses it
    # (tested below), torch accepts it when the extra leading size is 1, the batch of one.
    assert_same_verdict("LayerNorm", {"normalized_shape": normalized}, shape)


@settings(max_examples=40, deadline=None)
@given(shape=shape_of, size=st.integers(-1, 8))
def test_local_response_norm_verdicts(shape: tuple[int, ...], size: int) -> None:
    assert_same_verdict("LocalResponseNorm", {"size": size}, shape)


# --- hand-worked examples ---


def test_batch_norm_2d_on_resnet_stem() -> None:
    # 64 weights + 64 biases; running mean and var (64 each) + num_batches_tracked (1).
    row = analyse("BatchNorm2d", {}, (64, 56, 56))
    assert (row.out_shape, row.params, row.buffers, row.macs) == ((64, 56, 56), 128, 129, 0)


def test_batch_norm_without_affine_or_statistics_has_nothing() -> None:
    row = analyse("BatchNorm1d", {"affine": False, "track_running_stats": False}, (32, 10))
    assert (row.params, row.buffers, row.macs) == (0, 0, 0)


def test_instance_norm_defaults_have_no_parameters() -> None:
    # torch's defaults differ from BatchNorm: affine=False, track_running_stats=False.
    assert analyse("InstanceNorm2d", {}, (3, 8, 8)).params == 0
    row = analyse("InstanceNorm2d", {"affine": True, "track_running_stats": True}, (3, 8, 8))
    assert (row.params, row.buffers) == (6, 7)


def test_norm_bias_false_keeps_only_the_weight() -> None:
    # torch's recent bias argument: C weights, no bias. Left at True it is not passed to torch.
    assert analyse("BatchNorm2d", {"bias": False}, (64, 8, 8)).params == 64
    assert analyse("GroupNorm", {"num_groups": 8, "bias": False}, (64, 8, 8)).params == 64
    layer = kind_of("BatchNorm2d").model_validate({})
    assert "bias" not in layer.torch_kwargs((64, 8, 8))


def test_group_norm_parameters_and_bad_groups() -> None:
    assert analyse("GroupNorm", {"num_groups": 32}, (64, 8, 8)).params == 2 * 64
    with pytest.raises(NetspecError, match=r"num_groups=5 for 64 channels") as error:
        analyse("GroupNorm", {"num_groups": 5}, (64, 8, 8))
    assert error.value.problems[0].path == ("layers", 0, "GroupNorm", "num_groups")


def test_layer_norm_default_is_last_dim() -> None:
    # normalized_shape = 32: weight 32 + bias 32.
    assert analyse("LayerNorm", {}, (10, 32)).params == 64
    # Over a 7x7 plane without bias: 49 weights.
    assert (
        analyse("LayerNorm", {"normalized_shape": [7, 7], "bias": False}, (64, 7, 7)).params == 49
    )


def test_layer_norm_must_match_trailing_dims() -> None:
    with pytest.raises(
        NetspecError, match=r"normalized_shape=\[64, 7\] for the input \[64, 7, 7\]"
    ):
        analyse("LayerNorm", {"normalized_shape": [64, 7]}, (64, 7, 7))
    with pytest.raises(NetspecError, match="normalized_shape"):
        analyse("LayerNorm", {"normalized_shape": []}, (10, 32))


def test_layer_norm_cannot_reach_into_the_batch() -> None:
    # torch accepts [1, 10, 32] on a batch of one (N=1 matches), not on a real batch.
    assert torch_accepts("LayerNorm", {"normalized_shape": [1, 10, 32]}, (10, 32))
    with pytest.raises(NetspecError, match="trailing dims of one sample"):
        analyse("LayerNorm", {"normalized_shape": [1, 10, 32]}, (10, 32))


def test_local_response_norm_needs_two_dims() -> None:
    assert analyse("LocalResponseNorm", {"size": 5}, (96, 55, 55)).params == 0
    with pytest.raises(NetspecError, match=r"at least one more"):
        analyse("LocalResponseNorm", {"size": 5}, (96,))


def test_num_features_written_must_agree() -> None:
    assert analyse("BatchNorm2d", {"num_features": 16}, (16, 4, 4)).params == 32
    with pytest.raises(NetspecError, match="num_features follows from the input shape"):
        analyse("BatchNorm2d", {"num_features": 8}, (16, 4, 4))


def test_batch_norm_ranks() -> None:
    assert analyse("BatchNorm1d", {}, (20,)).out_shape == (20,)
    assert analyse("BatchNorm1d", {}, (20, 7)).out_shape == (20, 7)
    with pytest.raises(NetspecError, match=r"\[C, H, W\] \(3 dims\); received \[3, 8\]"):
        analyse("BatchNorm2d", {}, (3, 8))


def test_batch_norm_eps_must_be_positive() -> None:
    # torch accepts eps=0 only in eval mode with running statistics; training refuses it.
    module = torch.nn.BatchNorm2d(3, eps=0.0)
    with pytest.raises(ValueError, match="eps must be positive during training"):
        module(torch.randn(2, 3, 4, 4))
    with pytest.raises(NetspecError, match="eps must be positive"):
        analyse("BatchNorm2d", {"eps": 0.0}, (3, 4, 4))


def test_instance_norm_one_dim_short_normalises_each_sample() -> None:
    # torch reads a batch [N, C] of [C] samples as one unbatched input with N channels: each
    # sample is normalised over its C values (and torch warns that num_features is unused).
    x = torch.randn(3, 4)
    with pytest.warns(UserWarning, match="num_features"):
        out = torch.nn.InstanceNorm1d(4)(x)
    expected = (x - x.mean(1, keepdim=True)) / torch.sqrt(
        x.var(1, unbiased=False, keepdim=True) + 1e-5
    )
    assert torch.allclose(out, expected, atol=1e-5)
    assert analyse("InstanceNorm1d", {}, (4,)).out_shape == (4,)
    # Its 4 weights would have to match the N = 3 "channels".
    with pytest.raises(ValueError, match="match num_features"):
        torch.nn.InstanceNorm1d(4, affine=True)(x)
    with pytest.raises(NetspecError, match="only runs for a batch of exactly 4"):
        analyse("InstanceNorm1d", {"affine": True}, (4,))


def test_instance_norm_single_position_is_refused() -> None:
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        torch.nn.InstanceNorm2d(8, track_running_stats=True)(torch.randn(2, 8, 1, 1))
    with pytest.raises(NetspecError, match="single position"):
        analyse("InstanceNorm2d", {"track_running_stats": True}, (8, 1, 1))
