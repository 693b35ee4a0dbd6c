"""Today's CNN blocks written as specs against plain-PyTorch references written independently
(``tests/layers/modern_references.py``): squeeze-and-excitation, ShuffleNetV2 units of both
strides, a ConvNeXt block with layer scale and an MBConv block with stochastic depth.

Each: the same parameters and buffers in the same order with the same shapes; with the
reference's weights copied in by order, the same output in eval; and in training, under a fixed
seed, the same stochastic depth (the same samples dropped, the survivors scaled alike).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import yaml
from torch import Tensor, nn

import netspec
from tests.layers import modern_references as ref


def netspec_tensors(model: nn.Module) -> list[Tensor]:
    return list(model.state_dict().values())


def copy_by_order(source: list[Tensor], model: nn.Module) -> None:
    target = netspec_tensors(model)
    assert [tuple(t.shape) for t in target] == [tuple(t.shape) for t in source]
    with torch.no_grad():
        for mine, theirs in zip(target, source, strict=True):
            mine.copy_(theirs)


def randomise(module: nn.Module) -> nn.Module:
    """Non-trivial values everywhere (batch-norm statistics and layer scale included)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5)
    return module


def check(spec: dict[str, Any], reference: nn.Module, in_shape: tuple[int, ...],
          order: list[Tensor] | None = None) -> nn.Module:
    """Same tensors in the same order, same output in eval; returns the netspec model."""
    loaded = netspec.load(spec)
    model = netspec.build(loaded)
    randomise(reference)
    copy_by_order(order if order is not None else netspec_tensors(reference), model)
    analysed = netspec.analyze(loaded)
    assert analysed.params == sum(p.numel() for p in reference.parameters())
    assert analysed.buffers == sum(b.numel() for b in reference.buffers())
    x = torch.randn(4, *in_shape)
    model.eval()
    reference.eval()
    with torch.no_grad():
        expected = reference(x)
        assert analysed.output_shape == tuple(expected.shape[1:])
        torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)
    return model


def conv_bn(out: int, k: int = 1, stride: int = 1, groups: int = 1) -> dict[str, Any]:
    return {"Sequential": {"layers": [
        {"Conv2d": {"out_channels": out, "kernel_size": k, "stride": stride,
                    "padding": (k - 1) // 2, "groups": groups, "bias": False}},
        "BatchNorm2d"]}}


SE = {"Gate": {"layers": [
    {"AdaptiveAvgPool2d": {"output_size": 1}},
    {"Conv2d": {"out_channels": 8, "kernel_size": 1}}, "ReLU",
    {"Conv2d": {"out_channels": 32, "kernel_size": 1}}, "Sigmoid"]}}


def test_squeeze_and_excitation() -> None:
    check({"input": [32, 7, 7], "layers": [SE]}, ref.SqueezeExcitation(32, 8), (32, 7, 7))


SHUFFLE_BLOCKS = """
input: [{inp}, 12, 12]
blocks:
  ConvBN:
    params: {{out: null, k: 1, stride: 1, groups: 1}}
    layers:
      - Conv2d: {{out_channels: out, kernel_size: k, stride: stride, padding: k // 2,
                  groups: groups, bias: false}}
      - BatchNorm2d
  Right:
    params: {{c: null, stride: 1}}
    layers:
      - ConvBN: {{out: c}}
      - ReLU
      - ConvBN: {{out: c, k: 3, stride: stride, groups: c}}
      - ConvBN: {{out: c}}
      - ReLU
layers:
"""

DOWN_UNIT = """
  - Parallel:
      branches:
        - [{ConvBN: {out: 24, k: 3, stride: 2, groups: 24}}, {ConvBN: {out: 58}}, ReLU]
        - [{Right: {c: 58, stride: 2}}]
  - ChannelShuffle: {groups: 2}
"""

UNIT = """
  - Parallel:
      branches:
        - [{Chunk: {chunks: 2, index: 0}}]
        - [{Chunk: {chunks: 2, index: 1}}, {Right: {c: 58}}]
  - ChannelShuffle: {groups: 2}
"""


@pytest.mark.parametrize(("inp", "stride", "layers"), [(24, 2, DOWN_UNIT), (116, 1, UNIT)],
                         ids=["stride 2", "stride 1"])
def test_shufflenet_v2_unit(inp: int, stride: int, layers: str) -> None:
    spec = yaml.safe_load(SHUFFLE_BLOCKS.format(inp=inp) + layers)
    check(spec, ref.ShuffleUnit(inp, 116, stride), (inp, 12, 12))


CONVNEXT = {"input": [32, 9, 9], "layers": [{"Residual": {"shortcut": "identity", "body": [
    {"Conv2d": {"out_channels": 32, "kernel_size": 7, "padding": 3, "groups": 32}},
    {"Permute": {"dims": [1, 2, 0]}},
    {"LayerNorm": {"eps": 1.0e-6}},
    {"Linear": {"out_features": 128}}, "GELU", {"Linear": {"out_features": 32}},
    {"Permute": {"dims": [2, 0, 1]}},
    {"LayerScale": {"init_value": 1.0e-6}},
    {"StochasticDepth": {"p": 0.5, "mode": "row"}}]}}]}


def test_convnext_block_with_layer_scale() -> None:
    reference = ref.ConvNeXtBlock(32, p=0.5)
    assert netspec.build(netspec.load(CONVNEXT))[0].body[7].scale.flatten().tolist() == [
        pytest.approx(1e-6)] * 32  # starts at init_value, as torchvision's
    randomise(reference)
    model = check(CONVNEXT, reference, (32, 9, 9), ref.netspec_order(reference))
    same_training_behaviour(model, reference, (32, 9, 9))


MBCONV = {"input": [24, 10, 10], "layers": [{"Residual": {"shortcut": "if_same", "body": [
    {"Sequential": {"layers": [*conv_bn(144)["Sequential"]["layers"], "SiLU"]}},
    {"Sequential": {"layers": [*conv_bn(144, 3, 1, 144)["Sequential"]["layers"], "SiLU"]}},
    {"Gate": {"layers": [
        {"AdaptiveAvgPool2d": {"output_size": 1}},
        {"Conv2d": {"out_channels": 6, "kernel_size": 1}}, "SiLU",
        {"Conv2d": {"out_channels": 144, "kernel_size": 1}}, "Sigmoid"]}},
    conv_bn(24),
    {"StochasticDepth": {"p": 0.5, "mode": "row"}}]}}]}


def test_mbconv_block_with_stochastic_depth() -> None:
    reference = ref.MBConv(24, 24, 3, 1, 6, p=0.5)
    model = check(MBCONV, reference, (24, 10, 10))
    same_training_behaviour(model, reference, (24, 10, 10))


def same_training_behaviour(model: nn.Module, reference: nn.Module,
                            in_shape: tuple[int, ...]) -> None:
    """Training mode under one seed: the same samples dropped, survivors scaled by 1/(1-p)
    alike (batch norm in training uses the batch's statistics in both)."""
    x = torch.randn(16, *in_shape)
    model.train()
    reference.train()
    with torch.no_grad():
        torch.manual_seed(7)
        expected = reference(x)
        torch.manual_seed(7)
        got = model(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    dropped = [bool(torch.allclose(got[i], x[i])) for i in range(len(x))]
    assert 0 < sum(dropped) < len(x)  # p = 0.5 on 16 samples: some dropped, some kept


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_is_torchvisions(mode: str) -> None:
    """The module against the reference function (torchvision's semantics) under one seed:
    row draws one mask per sample, batch one for all; eval and p = 0 are the identity; p = 1
    zeroes everything."""
    x = torch.randn(64, 3, 2, 2)
    for p in (0.0, 0.3, 1.0):
        model = netspec.build(netspec.load({"input": [3, 2, 2], "layers": [
            {"StochasticDepth": {"p": p, "mode": mode}}]}))
        torch.manual_seed(3)
        got = model.train()(x)
        torch.manual_seed(3)
        assert torch.equal(got, ref.stochastic_depth(x, p, mode, training=True))
        assert torch.equal(model.eval()(x), x)
    torch.manual_seed(0)
    batch = netspec.build(netspec.load({"input": [3, 2, 2], "layers": [
        {"StochasticDepth": {"p": 0.5, "mode": mode}}]})).train()(torch.ones(64, 3, 2, 2))
    per_sample = {float(v) for v in batch.flatten(1)[:, 0]}
    assert per_sample <= {0.0, 2.0}
    assert len(per_sample) == (2 if mode == "row" else 1)
