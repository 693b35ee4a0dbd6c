"""``from_module`` on the kinds of today's CNNs: each module stores its arguments under their
spec names, so a built model comes back as its spec and its weights carry over."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import netspec
from netspec.torch_side.roundtrip import signature


def round_trip(spec: netspec.Spec) -> netspec.Spec:
    return netspec.from_module(netspec.build(spec, device="meta"), spec.input, name=spec.name)


SE = {"Gate": {"layers": [{"AdaptiveAvgPool2d": {"output_size": 1}},
                          {"Conv2d": {"out_channels": 2, "kernel_size": 1}}, "ReLU",
                          {"Conv2d": {"out_channels": 8, "kernel_size": 1}}, "Sigmoid"]}}

CASES: list[list[Any]] = [
    [SE],
    [{"Permute": {"dims": [1, 2, 0]}}, "LayerNorm", {"Permute": {"dims": [2, 0, 1]}}],
    [{"Permute": {"dims": [-1, 0, 1], "name": "to_last"}}],
    [{"ChannelShuffle": {"groups": 4}}],
    [{"Chunk": {"chunks": 2}}, {"Chunk": {"chunks": 3, "index": 1, "dim": 2}}],
    [{"Narrow": {"dim": 1, "start": -3, "length": 2}}],
    [{"LayerScale": {"init_value": 0.5}}, {"LayerScale": {"trainable": False}}],
    [{"StochasticDepth": {"p": 0.2, "mode": "row"}},
     {"StochasticDepth": {"p": 1.0, "mode": "batch"}}],
    [{"Parallel": {"merge": "mul", "branches": [["Identity"], [
        {"AdaptiveAvgPool2d": {"output_size": 1}}, "Sigmoid"]]}}],
    [{"Residual": {"shortcut_first": True, "body": [
        {"Conv2d": {"out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1}},
        {"Gate": {"layers": [{"AdaptiveAvgPool2d": {"output_size": 1}},
                             {"Conv2d": {"out_channels": 16, "kernel_size": 1}}, "Sigmoid"]}}],
        "post": ["ReLU"]}}],
]


@pytest.mark.parametrize("layers", CASES, ids=lambda layers: str(layers)[:60])
def test_the_spec_comes_back(layers: list[Any]) -> None:
    spec = netspec.load({"name": "modern", "input": [8, 6, 6], "layers": layers})
    back = round_trip(spec)
    assert back == spec, back.to_yaml()
    torch.manual_seed(0)
    model = netspec.build(spec).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand_like(p))
    again = netspec.build(netspec.from_module(model, spec.input)).eval()
    again.load_state_dict(model.state_dict())
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)


def test_shortcut_first_is_read_back_from_the_order_of_the_children() -> None:
    first = netspec.load({"input": [4, 6, 6], "layers": [{"Residual": {
        "shortcut_first": True,
        "body": [{"Conv2d": {"out_channels": 8, "kernel_size": 1, "stride": 2}}]}}]})
    model = netspec.build(first, device="meta")
    assert [name for name, _ in model[0].named_children()] == ["shortcut", "body"]
    assert [tuple(p.shape) for p in model.parameters()][:2] == [(8, 4, 1, 1), (8,)]
    back = netspec.from_module(model, (4, 6, 6))
    assert back.layers[0].shortcut_first is True
    plain = netspec.build(first.model_copy(update={"layers": (
        first.layers[0].model_copy(update={"shortcut_first": False}),)}), device="meta")
    assert signature(plain) != signature(model)
