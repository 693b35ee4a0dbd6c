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


def test_tokens_flattened_from_a_channels_last_map_are_mixed_over_the_whole_map() -> None:
    """A 3x3 convolution (padding 1) on 6x6 reads 3 pixels per axis; channels-last and
    flattened to 36 tokens, each token is one pixel, and the mean over the tokens reads them
    all: per axis 3 + (6-1)*1 = 8 (the padded map), not the 3 of one pixel. A channels-first
    map flattened the same way gives the same fields."""
    conv = {"Conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1}}
    layout = {"Permute": {"dims": [1, 2, 0]}}
    flat = {"Flatten": {"start_dim": 1, "end_dim": 2}}
    for tokens in ([conv, layout, flat], [conv, {"Flatten": {"start_dim": 2}},
                                          {"Permute": {"dims": [1, 0]}}]):
        report = rows([*tokens, "TokenMean"], [8, 6, 6])
        assert [row.out_shape for row in report[-2:]] == [(36, 8), (8,)]
        assert [(axis.size, axis.positional) for axis in report[-1].rf] == [(8, False)] * 2
    # the mean depends on every pixel of the 6x6 input, which the 8 pixels hold
    model = netspec.build(netspec.load({"input": [8, 6, 6], "layers": [
        conv, layout, flat, "TokenMean"]})).double().eval()
    x = torch.randn(1, 8, 6, 6, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(model(x)[0, 0], x)
    assert bool((grad[0].abs().sum(0) > 0).all())


def test_a_channels_last_flatten_explains_the_axis_it_merges_by_name() -> None:
    """[6, 6, 8] with W and the channels merged ([6, 48]): W is seen whole, 3 + (6-1)*1 = 8,
    named W (the channel column is no axis); H is left unknown and explained by nothing."""
    spec = netspec.load({"input": [8, 6, 6], "layers": [
        {"Conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
        {"Permute": {"dims": [1, 2, 0]}}, {"Flatten": {"start_dim": 2, "end_dim": 3}}]})
    report = netspec.analyze(spec)
    flatten = report.layers[2]
    assert flatten.layer is not None
    assert flatten.layer.explain_field(flatten.in_rf, flatten.in_shape) == [
        "RF_W = 3 + (6-1)*1 = 8, whole axis"]
    h, w, channels = flatten.rf
    assert (not h.known, w.size, channels) == (True, 8, CHANNEL_AXIS)
