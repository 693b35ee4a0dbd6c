"""Activations against torch: shapes and counts, ``PReLU``'s slopes, ``Softmax``'s ``dim``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import netspec
from netspec.core.errors import NetspecError
from netspec.layers.registry import kind_of
from tests.torch_check import assert_matches_torch, assert_same_verdict, torch_accepts

ARGS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "ReLU": st.fixed_dictionaries({"inplace": st.booleans()}),
    "ReLU6": st.fixed_dictionaries({"inplace": st.booleans()}),
    "LeakyReLU": st.fixed_dictionaries(
        {"negative_slope": st.floats(-1, 1), "inplace": st.booleans()}
    ),
    "ELU": st.fixed_dictionaries({"alpha": st.floats(0, 2), "inplace": st.booleans()}),
    "GELU": st.fixed_dictionaries({"approximate": st.sampled_from(["none", "tanh"])}),
    "SiLU": st.fixed_dictionaries({"inplace": st.booleans()}),
    "Mish": st.fixed_dictionaries({"inplace": st.booleans()}),
    "Hardswish": st.fixed_dictionaries({"inplace": st.booleans()}),
    "Hardsigmoid": st.fixed_dictionaries({"inplace": st.booleans()}),
    "Sigmoid": st.just({}),
    "Tanh": st.just({}),
    "Identity": st.just({}),
}
SOFTMAXES = ["Softmax", "LogSoftmax"]

shape_of = st.integers(1, 5).flatmap(
    lambda dims: st.lists(st.integers(1, 4), min_size=dims, max_size=dims).map(tuple)
)


def analyse(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> netspec.LayerReport:
    spec = netspec.load({"input": list(in_shape), "layers": [{kind: args}]})
    return netspec.analyze(spec).layers[0]


@pytest.mark.parametrize("kind", list(ARGS))
@settings(max_examples=8, deadline=None)
@given(shape=shape_of, data=st.data())
def test_elementwise_activations_match_torch(
    kind: str, shape: tuple[int, ...], data: st.DataObject
) -> None:
    args = data.draw(ARGS[kind])
    assert_matches_torch(kind_of(kind).model_validate(args), shape)
    assert_same_verdict(kind, args, shape)


@settings(max_examples=25, deadline=None)
@given(shape=shape_of, per_channel=st.booleans(), init=st.floats(-1, 1))
def test_prelu_matches_torch(shape: tuple[int, ...], per_channel: bool, init: float) -> None:
    args = {"num_parameters": shape[0] if per_channel else 1, "init": init}
    assert_matches_torch(kind_of("PReLU").model_validate(args), shape)


@settings(max_examples=40, deadline=None)
@given(shape=shape_of, num_parameters=st.integers(0, 5))
def test_prelu_verdicts(shape: tuple[int, ...], num_parameters: int) -> None:
    assert_same_verdict("PReLU", {"num_parameters": num_parameters}, shape)


@pytest.mark.parametrize("kind", SOFTMAXES)
@settings(max_examples=15, deadline=None)
@given(shape=shape_of, data=st.data())
def test_softmax_matches_torch(kind: str, shape: tuple[int, ...], data: st.DataObject) -> None:
    rank = len(shape) + 1
    dim = data.draw(st.one_of(st.integers(1, rank - 1), st.integers(-rank + 1, -1)))
    assert_matches_torch(kind_of(kind).model_validate({"dim": dim}), shape)


@pytest.mark.parametrize("kind", SOFTMAXES)
@settings(max_examples=30, deadline=None)
@given(shape=shape_of, dim=st.one_of(st.none(), st.integers(-7, 7)))
def test_softmax_verdicts(kind: str, shape: tuple[int, ...], dim: int | None) -> None:
    rank = len(shape) + 1
    # Deliberate difference, tested below: the batch dimension (dim 0, or torch's implicit
    # choice on a 3-dim batch) would normalise across samples.
    assume((dim % rank if dim is not None and -rank <= dim < rank else dim) != 0)
    assume(not (dim is None and rank == 3))
    assert_same_verdict(kind, {"dim": dim}, shape)


@settings(max_examples=20, deadline=None)
@given(approximate=st.text(max_size=6))
def test_gelu_approximate_verdicts(approximate: str) -> None:
    assert_same_verdict("GELU", {"approximate": approximate}, (3, 4))


def test_prelu_parameters() -> None:
    # One slope per channel of a [64, 8, 8] feature map, or one shared slope.
    assert analyse("PReLU", {"num_parameters": 64}, (64, 8, 8)).params == 64
    assert analyse("PReLU", {}, (64, 8, 8)).params == 1
    assert analyse("PReLU", {"num_parameters": 64}, (64, 8, 8)).macs == 0  # no matrix product
    with pytest.raises(NetspecError, match=r"num_parameters=8 for 64 channels"):
        analyse("PReLU", {"num_parameters": 8}, (64, 8, 8))


def test_softmax_over_classes() -> None:
    row = analyse("Softmax", {"dim": 1}, (10,))
    assert (row.out_shape, row.params, row.macs) == ((10,), 0, 0)
    assert analyse("LogSoftmax", {"dim": -1}, (10,)).out_shape == (10,)
    # Left out on [10] samples: torch's implicit choice for a 2-dim batch is dim 1.
    assert analyse("Softmax", {}, (10,)).out_shape == (10,)


def test_softmax_dim_out_of_range_names_the_range() -> None:
    with pytest.raises(NetspecError, match=r"dim must be in \[-4, 3\] .*received dim=4") as error:
        analyse("Softmax", {"dim": 4}, (3, 8, 8))
    assert error.value.problems[0].path == ("layers", 0, "Softmax", "dim")


def test_softmax_over_the_batch_is_refused() -> None:
    # torch accepts these on a batch of one; on a real batch they mix the samples.
    assert torch_accepts("Softmax", {"dim": 0}, (10,))
    with pytest.raises(NetspecError, match="dim=0 is the batch dimension"):
        analyse("Softmax", {"dim": 0}, (10,))
    with pytest.raises(NetspecError, match="dim=-3 is the batch dimension"):
        analyse("LogSoftmax", {"dim": -3}, (4, 10))
    # Implicit dim on [N, C, L]: torch picks dim 0.
    assert torch_accepts("Softmax", {}, (4, 10))
    with pytest.raises(NetspecError, match="without dim, torch picks dim 0"):
        analyse("Softmax", {}, (4, 10))


def test_bare_names_in_yaml() -> None:
    spec = netspec.load("input: [3, 8, 8]\nlayers:\n  - ReLU\n  - Sigmoid\n  - Identity\n")
    assert [row.out_shape for row in netspec.analyze(spec).layers] == [(3, 8, 8)] * 3


def test_every_activation_is_registered_with_a_docstring() -> None:
    for kind in [*ARGS, "PReLU", *SOFTMAXES]:
        cls = kind_of(kind)
        assert cls.kind == kind
        assert cls.__doc__ and "Example" in cls.__doc__
