"""MobileNetV2, SqueezeNet 1.0 and GoogLeNet specs against torchvision, without torchvision.

The expected numbers come from their publisher, never from netspec: the ``num_params`` of the
ImageNet weights in the torchvision docs, pytorch.org/vision/stable/models/generated/
torchvision.models.{mobilenet_v2,squeezenet1_0,googlenet}.html:

- MobileNet_V2_Weights.IMAGENET1K_V1: 3,504,872
- SqueezeNet1_0_Weights.IMAGENET1K_V1: 1,248,424
- GoogLeNet_Weights.IMAGENET1K_V1: 6,624,904. torchvision builds GoogLeNet with the auxiliary
  classifiers to load these weights, then sets ``aux1 = aux2 = None`` unless the caller asked
  for them, so the published figure is the network without them, as in specs/googlenet.yaml.
  It is re-derived below by hand, block by block (``GOOGLENET``), and by the reference module.

Each spec is checked three ways: the analysis (no torch) and the built ``nn.Sequential`` give
the published count and a [1000] output; a plain-PyTorch reference written here from
torchvision's source (models/mobilenetv2.py, squeezenet.py, googlenet.py) has the same
parameters and buffers in the same order and shapes; with the reference's weights (and random
batch-norm statistics) copied in by position, both give the same output in eval mode (float32
to 1e-5: float64 depthwise convolutions are ~10x slower on CPU; on a 96x96 input to keep the
file fast: ``Spec.with_input`` gives the same network).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from torch import nn

import netspec
import netspec.torch_side.modules

SPECS = Path(__file__).resolve().parent.parent / "specs"
SMALL_INPUT = (3, 96, 96)


# --- plain-PyTorch references, transcribed from torchvision's model sources -------------------


def make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision.models._utils._make_divisible (min_value None)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn_relu6(inp: int, oup: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Module:
    """torchvision's Conv2dNormActivation(norm_layer=BatchNorm2d, activation_layer=ReLU6)."""
    return nn.Sequential(
        nn.Conv2d(inp, oup, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(oup),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(inp * expand_ratio)  # torchvision: int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_relu6(inp, hidden, k=1))
        layers += [
            conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    SETTING: ClassVar[list[tuple[int, int, int, int]]] = [  # t, c, n, s
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
        (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    def __init__(self, width_mult: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        input_channel = make_divisible(32 * width_mult)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [conv_bn_relu6(3, input_channel, stride=2)]
        for t, c, n, s in self.SETTING:
            output_channel = make_divisible(c * width_mult)
            for i in range(n):
                features.append(
                    InvertedResidual(input_channel, output_channel, s if i == 0 else 1, t)
                )
                input_channel = output_channel
        features.append(conv_bn_relu6(input_channel, self.last_channel, k=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.last_channel, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


class Fire(nn.Module):
    def __init__(self, inplanes: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            1,
        )


class SqueezeNet10(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(96, 16, 64, 64),
            Fire(128, 16, 64, 64),
            Fire(128, 32, 128, 128),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(256, 32, 128, 128),
            Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(512, 64, 256, 256),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Conv2d(512, num_classes, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


class BasicConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, **kwargs: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    def __init__(
        self, c_in: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
        pool_proj: int,
    ) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(c_in, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(c_in, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(  # torchvision: 3x3 where the paper has 5x5
            BasicConv2d(c_in, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(c_in, pool_proj, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([branch(x) for branch in branches], 1)


class GoogLeNet(nn.Module):
    """aux_logits=False, transform_input=False, dropout 0.2."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.children():
            if module is self.dropout:
                x = torch.flatten(x, 1)
            x = module(x)
        return x


# GoogLeNet by hand: a BasicConv2d has k*k*c_in*c_out weights and a batch norm's 2*c_out; an
# Inception block is its six BasicConv2d (the 1x1 reduce and the 3x3 of branches 2 and 3).
def basic(c_in: int, c_out: int, k: int = 1) -> int:
    return k * k * c_in * c_out + 2 * c_out


def inception(c_in: int, b1: int, r3: int, b3: int, r5: int, b5: int, proj: int) -> int:
    return (
        basic(c_in, b1) + basic(c_in, r3) + basic(r3, b3, 3) + basic(c_in, r5)
        + basic(r5, b5, 3) + basic(c_in, proj)
    )


GOOGLENET = (
    basic(3, 64, 7) + basic(64, 64) + basic(64, 192, 3)
    + inception(192, 64, 96, 128, 16, 32, 32) + inception(256, 128, 128, 192, 32, 96, 64)
    + inception(480, 192, 96, 208, 16, 48, 64) + inception(512, 160, 112, 224, 24, 64, 64)
    + inception(512, 128, 128, 256, 24, 64, 64) + inception(512, 112, 144, 288, 32, 64, 64)
    + inception(528, 256, 160, 320, 32, 128, 128) + inception(832, 256, 160, 320, 32, 128, 128)
    + inception(832, 384, 192, 384, 48, 128, 128)
    + 1024 * 1000 + 1000  # fc
)

# (spec, published parameters, reference module)
ZOO: list[tuple[str, int, Callable[[], nn.Module]]] = [
    ("mobilenet_v2", 3_504_872, MobileNetV2),  # MobileNet_V2_Weights.IMAGENET1K_V1
    ("squeezenet1_0", 1_248_424, SqueezeNet10),  # SqueezeNet1_0_Weights.IMAGENET1K_V1
    ("googlenet", 6_624_904, GoogLeNet),  # GoogLeNet_Weights.IMAGENET1K_V1 (no aux heads)
]
IDS = [name for name, _, _ in ZOO]


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_googlenet_hand_count_is_the_published_figure() -> None:
    assert GOOGLENET == 6_624_904


# --- counts and shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "params", "reference"), ZOO, ids=IDS)
def test_analysis_gives_the_published_count(
    name: str, params: int, reference: Callable[[], nn.Module]
) -> None:
    report = netspec.analyze(netspec.load(SPECS / f"{name}.yaml"))
    assert report.params == params
    assert report.trainable_params == params
    assert report.output_shape == (1000,)


@pytest.mark.parametrize(("name", "params", "reference"), ZOO, ids=IDS)
def test_built_model_gives_the_published_count(
    name: str, params: int, reference: Callable[[], nn.Module]
) -> None:
    spec = netspec.load(SPECS / f"{name}.yaml")
    model = netspec.build(spec, device="meta")
    assert count(model) == params
    with torch.no_grad():
        out = model.eval()(torch.empty(1, *spec.input, device="meta"))
    assert tuple(out.shape) == (1, 1000)


@pytest.mark.parametrize(("name", "params", "reference"), ZOO, ids=IDS)
def test_reference_module_gives_the_published_count(
    name: str, params: int, reference: Callable[[], nn.Module]
) -> None:
    """The transcription itself is right, so matching it means matching torchvision."""
    with torch.device("meta"):
        assert count(reference()) == params


# --- one-to-one against the reference ---------------------------------------------------------


def tensors(module: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    return list(module.parameters()), list(module.buffers())


def assert_same_layout(model: nn.Module, reference: nn.Module) -> None:
    """Parameters and buffers correspond one-to-one, in order and shape."""
    for ours, theirs in zip(tensors(model), tensors(reference), strict=True):
        assert len(ours) == len(theirs)
        assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs]


def randomise(module: nn.Module) -> None:
    """Weights that keep the signal near unit scale through the depth (torch's default init
    shrinks it towards zero, where outputs would be the last biases and the comparison blind),
    and batch-norm parameters and running statistics away from their identity defaults.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            if isinstance(layer, nn.BatchNorm2d):
                assert layer.running_mean is not None and layer.running_var is not None
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.normal_(0, 0.1)
                layer.running_mean.normal_(0, 0.1)
                layer.running_var.uniform_(0.5, 1.5)


def copy_by_position(source: nn.Module, target: nn.Module) -> None:
    with torch.no_grad():
        for ours, theirs in zip(tensors(target), tensors(source), strict=True):
            for dst, src in zip(ours, theirs, strict=True):
                dst.copy_(src)


def assert_same_function(model: nn.Module, reference: nn.Module, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    reference = reference.eval()
    randomise(reference)
    model = model.eval()
    copy_by_position(reference, model)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        expected = reference(x)
        got = model(x)
    assert got.shape == expected.shape == (2, 1000)
    # The output depends on the input (not only on the last biases), so the check has teeth.
    assert (expected[0] - expected[1]).abs().mean() > 1e-2
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "params", "reference"), ZOO, ids=IDS)
def test_parameters_and_buffers_match_the_reference_one_to_one(
    name: str, params: int, reference: Callable[[], nn.Module]
) -> None:
    with torch.device("meta"):
        ref = reference()
    assert_same_layout(netspec.build(SPECS / f"{name}.yaml", device="meta"), ref)


@pytest.mark.parametrize(("name", "params", "reference"), ZOO, ids=IDS)
def test_same_output_as_the_reference_with_its_weights(
    name: str, params: int, reference: Callable[[], nn.Module]
) -> None:
    torch.manual_seed(1)
    ref = reference()
    spec = netspec.load(SPECS / f"{name}.yaml").with_input(SMALL_INPUT)
    assert netspec.analyze(spec).output_shape == (1000,)
    assert_same_function(netspec.build(spec), ref, SMALL_INPUT)


# --- MobileNetV2 as a model family ------------------------------------------------------------


# torchvision publishes weights for width 1.0 only; the other counts are those of
# mobilenet_v2(width_mult=...), computed by the reference transcription above (pinned here so a
# change to either side shows), which the test also compares with netspec layer by layer.
WIDTHS = [(0.5, 1_968_680), (0.75, 2_636_424), (1.0, 3_504_872), (1.4, 6_108_776)]


@pytest.mark.parametrize(("width", "params"), WIDTHS)
def test_width_mult_gives_torchvisions_family(width: float, params: int) -> None:
    spec = netspec.load(SPECS / "mobilenet_v2.yaml", params={"width_mult": width})
    assert netspec.analyze(spec).params == params
    with torch.device("meta"):
        ref = MobileNetV2(width_mult=width)
    assert count(ref) == params
    assert_same_layout(netspec.build(spec, device="meta"), ref)


def test_half_width_mobilenet_computes_what_torchvision_does() -> None:
    torch.manual_seed(2)
    ref = MobileNetV2(width_mult=0.5)
    spec = netspec.load(SPECS / "mobilenet_v2.yaml", params={"width_mult": 0.5})
    model = netspec.build(spec.with_input(SMALL_INPUT))
    stem = model.features[0][0]
    assert (stem.out_channels, model.classifier[1].in_features) == (16, 1280)
    assert_same_function(model, ref, SMALL_INPUT)


def residual_flags(model: nn.Module) -> Iterator[bool]:
    """For each inverted residual block: whether it adds its input."""
    for block in model.features:
        if isinstance(block, netspec.torch_side.modules.Residual):
            yield block.shortcut is not None
        elif isinstance(block, InvertedResidual):
            yield block.use_res_connect


def test_mobilenet_adds_the_input_exactly_where_torchvision_does() -> None:
    """Stride 1 and equal channels: blocks 3, 5, 6, 8, 9, 10, 12, 13, 15, 16 of features."""
    with torch.device("meta"):
        ref = MobileNetV2()
    model = netspec.build(SPECS / "mobilenet_v2.yaml", device="meta")
    flags = list(residual_flags(model))
    assert flags == list(residual_flags(ref))
    assert len(flags) == 17 and sum(flags) == 10
