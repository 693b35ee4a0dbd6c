"""The receptive field through ``SelectToken`` and ``TokenMean``: worked out by hand for tokens
that carry a located input axis (a strided ``Conv1d`` then ``Permute``), confirmed by gradients
on the built model, and for tokens that carry none.

The map: ``Conv1d`` kernel 3, stride 2 on 41 positions gives 20 tokens; token ``t`` reads input
positions ``2t`` to ``2t + 2`` (field 3, jump 2, centre ``1 + 2t``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import torch

import netspec
from netspec.core.shapes import CHANNEL_AXIS, AxisRF

CONV = {"Conv1d": {"out_channels": 8, "kernel_size": 3, "stride": 2}}
TOKENS = [CONV, {"Permute": {"dims": [1, 0]}}]


def rows(layers: list[Any], shape: list[int]) -> list[netspec.LayerReport]:
    return list(netspec.analyze(netspec.load({"input": shape, "layers": layers})).layers)


def positions_read(layers: list[Any], shape: list[int]) -> list[int]:
    """Input positions (last axis) that the first output feature depends on, by gradient."""
    torch.manual_seed(0)
    model = netspec.build(netspec.load({"input": shape, "layers": layers})).double().eval()
    x = torch.randn(1, *shape, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0].backward()
    assert x.grad is not None
    seen = x.grad[0].abs().sum(0) > 0
    return [int(i) for i in seen.nonzero().flatten()]


@pytest.mark.parametrize(("index", "token"), [(2, 2), (-1, 19), (-18, 2)])
def test_a_selected_token_keeps_its_own_field(index: int, token: int) -> None:
    # token t: field 3, jump 2, centre 1 + 2t; it no longer lies along an axis of the sample
    layers = [*TOKENS, {"SelectToken": {"index": index}}]
    select = rows(layers, [4, 41])[-1]
    assert select.out_shape == (8,)
    assert select.rf == (AxisRF(Fraction(3), Fraction(2), Fraction(1 + 2 * token),
                                positional=False),)
    assert positions_read(layers, [4, 41]) == [2 * token, 2 * token + 1, 2 * token + 2]


def test_the_token_mean_reads_every_position() -> None:
    # 20 tokens of field 3, jump 2: 3 + (20-1)*2 = 41 positions, centre (0 + 40) / 2 = 20
    layers = [*TOKENS, "TokenMean"]
    mean = rows(layers, [4, 41])[-1]
    assert mean.rf == (AxisRF(Fraction(41), Fraction(40), Fraction(20), positional=False),)
    assert positions_read(layers, [4, 41]) == list(range(41))


def test_a_token_selected_after_attention_keeps_the_whole_axis() -> None:
    # attention already reads all 41 positions; selecting token 3 changes nothing
    layers = [*TOKENS, {"MultiheadAttention": {"num_heads": 2}}, {"SelectToken": {"index": 3}}]
    *_, attention, select = rows(layers, [4, 41])
    whole = AxisRF(Fraction(41), Fraction(40), Fraction(20), positional=False)
    assert attention.rf == (whole, CHANNEL_AXIS)
    assert select.rf == (whole,)
    assert positions_read(layers, [4, 41]) == list(range(41))


@pytest.mark.parametrize("reduce", [{"SelectToken": {"index": 1}}, "TokenMean"])
def test_tokens_without_a_located_axis_keep_the_features_field(reduce: Any) -> None:
    """Plain ``[6, 8]`` tokens: the one column is the feature axis (8), which the reduction
    over tokens keeps: output feature d reads input feature d only."""
    (row,) = rows([reduce], [6, 8])
    assert row.rf == (AxisRF(),)
    model = netspec.build(netspec.load({"input": [6, 8], "layers": [reduce]}))
    x = torch.randn(1, 6, 8, requires_grad=True)
    model(x)[0, 3].backward()
    assert x.grad is not None
    assert x.grad[0].abs().sum(0).nonzero().flatten().tolist() == [3]


@pytest.mark.parametrize("reduce", [{"SelectToken": {"index": 1}}, "TokenMean"])
def test_a_vector_of_features_has_no_channel_column(reduce: Any) -> None:
    """Channels-last pixels flattened into tokens ``[36, 8]``: after the reduction, ``[8]``
    holds its features at dim 0, where the channel marker never stands."""
    layers = [{"Permute": {"dims": [1, 2, 0]}}, {"Flatten": {"start_dim": 1, "end_dim": 2}},
              reduce]
    *_, flat, row = rows(layers, [8, 6, 6])
    assert flat.out_shape == (36, 8) and CHANNEL_AXIS in flat.rf
    assert row.out_shape == (8,)
    assert CHANNEL_AXIS not in row.rf


@pytest.mark.parametrize("attention", [{"MultiheadAttention": {"num_heads": 2}},
                                       {"TransformerEncoderLayer": {"nhead": 2,
                                                                    "dim_feedforward": 16}}])
def test_attention_on_plain_tokens_reads_every_feature(attention: Any) -> None:
    """Plain ``[6, 8]`` tokens: the one column is the feature axis, and every output of
    attention reads all 8 features: 1 + (8-1)*1 = 8, jump 8, centre 3.5."""
    (row,) = rows([attention], [6, 8])
    assert row.rf == (AxisRF(Fraction(8), Fraction(8), Fraction(7, 2), positional=False),)
    model = netspec.build(netspec.load({"input": [6, 8], "layers": [attention]})).eval()
    x = torch.randn(1, 6, 8, requires_grad=True)
    model(x)[0, 0, 0].backward()
    assert x.grad is not None
    assert x.grad[0].abs().sum(0).nonzero().flatten().tolist() == list(range(8))
