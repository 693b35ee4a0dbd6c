"""``Linear`` against torch: shapes, parameters, MACs, verdicts, receptive field."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import netspec
from netspec.core.errors import NetspecError
from netspec.core.shapes import AxisRF
from netspec.layers.registry import kind_of
from tests.torch_check import assert_matches_torch, assert_same_verdict

shape_of = st.integers(1, 4).flatmap(
    lambda dims: st.lists(st.integers(1, 6), min_size=dims, max_size=dims).map(tuple)
)


def analyse(args: dict[str, Any], in_shape: tuple[int, ...]) -> netspec.LayerReport:
    spec = netspec.load({"input": list(in_shape), "layers": [{"Linear": args}]})
    return netspec.analyze(spec).layers[0]


@settings(max_examples=30, deadline=None)
@given(shape=shape_of, out_features=st.integers(1, 9), bias=st.booleans(), write=st.booleans())
def test_linear_matches_torch(
    shape: tuple[int, ...], out_features: int, bias: bool, write: bool
) -> None:
    args: dict[str, Any] = {"out_features": out_features, "bias": bias}
    if write:
        args["in_features"] = shape[-1]
    assert_matches_torch(kind_of("Linear").model_validate(args), shape)


@settings(max_examples=40, deadline=None)
@given(shape=shape_of, out_features=st.integers(0, 4), in_features=st.none() | st.integers(0, 6))
def test_linear_verdicts(
    shape: tuple[int, ...], out_features: int, in_features: int | None
) -> None:
    args: dict[str, Any] = {"out_features": out_features}
    if in_features is not None:
        args["in_features"] = in_features
    assert_same_verdict("Linear", args, shape)


def test_lenet_linear_parameters() -> None:
    # 400 inputs x 120 outputs + 120 biases = 48,120; MACs: 400*120 products, the bias is none.
    row = analyse({"out_features": 120}, (400,))
    assert (row.out_shape, row.params, row.macs) == ((120,), 48_120, 48_000)
    # On a [64, 7, 7] map it runs once per row: 64*7 rows of 7*10 products.
    assert analyse({"out_features": 10}, (64, 7, 7)).macs == 64 * 7 * 7 * 10
    assert analyse({"out_features": 120, "bias": False}, (400,)).params == 48_000


def test_linear_on_a_feature_map_acts_on_the_last_dim() -> None:
    # torch applies it to each row of 7: [64, 7, 7] -> [64, 7, 10], 7 * 10 + 10 parameters.
    assert torch.nn.Linear(7, 10)(torch.randn(1, 64, 7, 7)).shape == (1, 64, 7, 10)
    row = analyse({"out_features": 10}, (64, 7, 7))
    assert (row.out_shape, row.params) == ((64, 7, 10), 80)


def test_written_in_features_must_agree() -> None:
    with pytest.raises(NetspecError, match=r"in_features follows from the input shape \[400\]"):
        analyse({"in_features": 300, "out_features": 10}, (400,))


def test_receptive_field_mixes_the_last_spatial_axis() -> None:
    # On [C, H, W] an output unit at (c, h, o) reads every w of row h: whole along W
    # (1 + (7 - 1) * 1 = 7 pixels), one pixel along H.
    layer = kind_of("Linear").model_validate({"out_features": 3})
    rf = layer.receptive_field((AxisRF(), AxisRF()), (4, 5, 7))
    assert (rf[0], rf[1].size, rf[1].positional) == (AxisRF(), Fraction(7), False)
    # The same, measured: the gradient of one output unit is non-zero on exactly those pixels.
    torch.manual_seed(0)
    module = torch.nn.Linear(7, 3)
    x = torch.randn(1, 4, 5, 7, requires_grad=True)
    module(x)[0, 2, 3, 1].backward()
    assert x.grad is not None
    seen = x.grad[0].ne(0).nonzero()
    assert set(seen[:, 1].tolist()) == {3} and len(set(seen[:, 2].tolist())) == 7


def test_receptive_field_after_flatten_is_whole() -> None:
    spec = netspec.load(
        {"input": [1, 28, 28], "layers": ["Flatten", {"Linear": {"out_features": 10}}]}
    )
    rf = netspec.analyze(spec).rf
    assert [(axis.size, axis.positional) for axis in rf] == [(Fraction(28), False)] * 2
