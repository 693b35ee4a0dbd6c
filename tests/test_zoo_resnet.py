"""The model-zoo specs (ResNet-18/34/50, ResNet-20 for CIFAR, VGG-16-BN) against torchvision.

Published parameter counts are torchvision's, from the "num_params" of each model's weights
entry in the torchvision documentation (pytorch.org/vision/stable/models/generated/
torchvision.models.<name>.html): resnet18 11,689,512 (ResNet18_Weights.IMAGENET1K_V1),
resnet34 21,797,672 (ResNet34_Weights.IMAGENET1K_V1), resnet50 25,557,032
(ResNet50_Weights.IMAGENET1K_V1), vgg16_bn 138,365,992 (VGG16_BN_Weights.IMAGENET1K_V1).

For ResNet-18 and ResNet-50 the tests also carry a plain-PyTorch reference written from
torchvision's documented architecture (torchvision/models/resnet.py: BasicBlock, Bottleneck,
ResNet; no torchvision dependency): the built model must have the same parameters and buffers,
in the same order and shapes, and, with the reference's weights copied in, the same output.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import netspec
from netspec.cli.commands import build_parser, main

SPECS = Path(__file__).resolve().parent.parent / "specs"

# spec file, torchvision's published parameter count, output shape
PUBLISHED = [
    ("resnet18.yaml", 11_689_512, (1000,)),
    ("resnet34.yaml", 21_797_672, (1000,)),
    ("resnet50.yaml", 25_557_032, (1000,)),
    ("vgg16_bn.yaml", 138_365_992, (1000,)),
]


# --- hand arithmetic ---------------------------------------------------------------------------


def conv_bn(c_in: int, c_out: int, k: int) -> int:
    """A bias-free k x k convolution and its batch norm (weight and bias per channel)."""
    return c_in * c_out * k * k + 2 * c_out


def resnet_params(
    bottleneck: bool, depths: list[int], *, width: int = 64, classes: int = 1000,
    stem_kernel: int = 7,
) -> int:
    """Parameters of torchvision's ResNet, block by block, with the projection shortcut
    (1x1 conv + BN) wherever the stride or the channel count changes."""
    total = conv_bn(3, width, stem_kernel)
    c_in = width
    for stage, blocks in enumerate(depths):
        planes = width * 2**stage
        c_out = 4 * planes if bottleneck else planes
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            if bottleneck:
                total += conv_bn(c_in, planes, 1) + conv_bn(planes, planes, 3)
                total += conv_bn(planes, c_out, 1)
            else:
                total += conv_bn(c_in, planes, 3) + conv_bn(planes, planes, 3)
            if stride != 1 or c_in != c_out:
                total += conv_bn(c_in, c_out, 1)
            c_in = c_out
    return total + c_in * classes + classes


def test_the_hand_arithmetic_gives_torchvisions_published_numbers() -> None:
    assert resnet_params(False, [2, 2, 2, 2]) == 11_689_512
    assert resnet_params(False, [3, 4, 6, 3]) == 21_797_672
    assert resnet_params(True, [3, 4, 6, 3]) == 25_557_032


# --- published counts and shapes ---------------------------------------------------------------


@pytest.mark.parametrize(("file", "params", "out"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_parameter_count_and_output_shape(
    file: str, params: int, out: tuple[int, ...]
) -> None:
    spec = netspec.load(SPECS / file)
    assert spec.input == (3, 224, 224)
    report = netspec.analyze(spec)
    assert report.params == params
    assert report.trainable_params == params
    assert report.output_shape == out
    model = netspec.build(spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == params
    with torch.no_grad():
        y = model.eval()(torch.empty(1, *spec.input, device="meta"))
    assert tuple(y.shape) == (1, *out)


def test_resnet20_cifar_parameter_count_by_hand() -> None:
    """He et al. 2016, section 4.2, n = 3, with projection (option B) shortcuts.

    stem   conv 3x3 3->16 (no bias) + BN:        3*16*9 + 2*16               =     464
    stage1 3 blocks, each 2x (conv 16->16 + BN): 3 * 2 * (16*16*9 + 32)       =  14,016
    stage2 block 1: conv 16->32 + BN, conv 32->32 + BN, projection 1x1 16->32 + BN:
             (16*32*9 + 64) + (32*32*9 + 64) + (16*32 + 64) = 4,672 + 9,280 + 576 = 14,528
           blocks 2-3: 2 * 2 * (32*32*9 + 64)                                  =  37,120
    stage3 block 1: (32*64*9 + 128) + (64*64*9 + 128) + (32*64 + 128)
                    = 18,560 + 36,992 + 2,176                                  =  57,728
           blocks 2-3: 2 * 2 * (64*64*9 + 128)                                 = 147,968
    fc     64*10 + 10                                                          =     650
    total                                                                        272,474
    Option A (the paper's zero-padding shortcuts) has no projections: 272,474 - 576 - 2,176
    = 269,722, the 0.27M of the paper's Table 6.
    """
    stem = 3 * 16 * 9 + 2 * 16
    stage1 = 3 * 2 * (16 * 16 * 9 + 32)
    stage2 = (16 * 32 * 9 + 64) + (32 * 32 * 9 + 64) + (16 * 32 + 64) + 2 * 2 * (32 * 32 * 9 + 64)
    stage3 = (32 * 64 * 9 + 128) + (64 * 64 * 9 + 128) + (32 * 64 + 128)
    stage3 += 2 * 2 * (64 * 64 * 9 + 128)
    fc = 64 * 10 + 10
    expected = stem + stage1 + stage2 + stage3 + fc
    assert (stem, stage1, stage2, stage3, fc) == (464, 14_016, 51_648, 205_696, 650)
    assert expected == 272_474
    assert expected - (16 * 32 + 64) - (32 * 64 + 128) == 269_722  # option A
    assert resnet_params(False, [3, 3, 3], width=16, classes=10, stem_kernel=3) == expected

    spec = netspec.load(SPECS / "resnet20_cifar.yaml")
    assert spec.input == (3, 32, 32)
    report = netspec.analyze(spec)
    assert report.params == expected
    assert report.output_shape == (10,)
    stages = {row.name: row for row in report.layers if row.depth == 0}
    assert stages["layer1"].params == stage1
    assert stages["layer2"].params == stage2
    assert stages["layer3"].params == stage3
    assert [stages[f"layer{i}"].out_shape for i in (1, 2, 3)] == [
        (16, 32, 32), (32, 16, 16), (64, 8, 8)]
    # 20 weighted layers: 19 3x3 convolutions on the main path and the fc (6n + 2, n = 3)
    model = netspec.build(spec)
    main_convs = [
        m for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and ".shortcut." not in name
    ]
    assert len(main_convs) + 1 == 20
    assert sum(p.numel() for p in model.parameters()) == expected
    with torch.no_grad():
        assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize(
    ("file", "depths"),
    [("resnet18.yaml", [2, 2, 2, 2]), ("resnet34.yaml", [3, 4, 6, 3]),
     ("resnet50.yaml", [3, 4, 6, 3])],
)
def test_resnet_stages_read_like_torchvision(file: str, depths: list[int]) -> None:
    """Top-level modules named as torchvision's; Repeat splices blocks into 0..n-1."""
    spec = netspec.load(SPECS / file)
    model = netspec.build(spec, device="meta")
    assert [name for name, _ in model.named_children()] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
        "avgpool", "flatten", "fc",
    ]
    for stage, blocks in enumerate(depths, start=1):
        children = [name for name, _ in getattr(model, f"layer{stage}").named_children()]
        assert children == [str(i) for i in range(blocks)]
    expansion = 4 if file == "resnet50.yaml" else 1
    rows = {row.name: row for row in netspec.analyze(spec).layers if row.depth == 0}
    assert rows["maxpool"].out_shape == (64, 56, 56)
    for stage, size in zip((1, 2, 3, 4), (56, 28, 14, 7), strict=True):
        channels = 64 * 2 ** (stage - 1) * expansion
        assert rows[f"layer{stage}"].out_shape == (channels, size, size)


def test_resnet18_reads_short() -> None:
    assert len((SPECS / "resnet18.yaml").read_text(encoding="utf-8").splitlines()) < 80


def test_vgg16_bn_state_dict_keys_are_torchvisions() -> None:
    """torchvision's make_layers: features = conv, bn, relu per entry of cfg D, a max pool per
    "M"; classifier = Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
           512, 512, 512, "M"]
    keys: list[str] = []
    index = 0
    for entry in cfg:
        if entry == "M":
            index += 1
            continue
        keys += [f"features.{index}.weight", f"features.{index}.bias"]
        keys += [f"features.{index + 1}.{key}" for key in
                 ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
        index += 3
    keys += [f"classifier.{i}.{key}" for i in (0, 3, 6) for key in ("weight", "bias")]
    model = netspec.build(SPECS / "vgg16_bn.yaml", device="meta")
    assert list(model.state_dict()) == keys
    assert model.features[0].out_channels == 64
    assert model.classifier[0].in_features == 512 * 7 * 7


# --- plain-PyTorch reference (torchvision/models/resnet.py, as documented) ---------------------


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet V1.5: the stride sits on the 3x3 convolution (conv2)."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(
        self, block: type[BasicBlock | Bottleneck], layers: list[int], num_classes: int = 1000
    ) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


REFERENCES = {
    "resnet18.yaml": (BasicBlock, [2, 2, 2, 2]),
    "resnet50.yaml": (Bottleneck, [3, 4, 6, 3]),
}


def torchvision_name(name: str) -> str:
    """Our module path in torchvision's words: a Residual's body is the block itself, its
    shortcut is ``downsample``."""
    return name.replace(".body.", ".").replace(".shortcut.", ".downsample.")


@pytest.mark.parametrize("file", list(REFERENCES))
def test_resnet_matches_the_reference_one_to_one(file: str) -> None:
    block, depths = REFERENCES[file]
    torch.manual_seed(0)
    reference = ResNet(block, depths).double()
    # a smaller image keeps the float64 forward pass fast; the network is the same
    spec = netspec.load(SPECS / file).with_input((3, 64, 64))
    ours = netspec.build(spec, dtype=torch.float64)

    ours_params, ref_params = list(ours.named_parameters()), list(reference.named_parameters())
    assert len(ours_params) == len(ref_params)
    assert [p.shape for _, p in ours_params] == [p.shape for _, p in ref_params]
    assert [torchvision_name(n) for n, _ in ours_params] == [n for n, _ in ref_params]
    ours_buffers, ref_buffers = list(ours.named_buffers()), list(reference.named_buffers())
    assert len(ours_buffers) == len(ref_buffers)
    assert [b.shape for _, b in ours_buffers] == [b.shape for _, b in ref_buffers]
    assert [torchvision_name(n) for n, _ in ours_buffers] == [n for n, _ in ref_buffers]

    # batch norms away from their identity initialisation, so every one of them matters
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.num_batches_tracked.fill_(7)
        for p, q in zip(ours.parameters(), reference.parameters(), strict=True):
            p.data.copy_(q.data)
        for b, c in zip(ours.buffers(), reference.buffers(), strict=True):
            b.data.copy_(c.data)

    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        expected = reference.eval()(x)
        got = ours.eval()(x)
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


# --- params= and --set overrides ---------------------------------------------------------------


def test_num_classes_override_changes_only_fc() -> None:
    default = netspec.analyze(netspec.load(SPECS / "resnet18.yaml"))
    spec = netspec.load(SPECS / "resnet18.yaml", params={"num_classes": 10})
    report = netspec.analyze(spec)
    assert report.output_shape == (10,)
    # fc goes from 512*1000 + 1000 to 512*10 + 10; nothing else changes
    assert report.params == 11_689_512 - (512 * 1000 + 1000) + (512 * 10 + 10) == 11_181_642
    changed = [
        (a.name, a.params, b.params)
        for a, b in zip(default.top_level(), report.top_level(), strict=True)
        if a.params != b.params
    ]
    assert changed == [("fc", 513_000, 5_130)]
    model = netspec.build(spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == 11_181_642
    assert model.fc.out_features == 10


@pytest.mark.parametrize(
    ("file", "bottleneck", "depths"),
    [("resnet18.yaml", False, [2, 2, 2, 2]), ("resnet34.yaml", False, [3, 4, 6, 3]),
     ("resnet50.yaml", True, [3, 4, 6, 3])],
)
def test_width_override_scales_every_stage(
    file: str, bottleneck: bool, depths: list[int]
) -> None:
    spec = netspec.load(SPECS / file, params={"width": 32, "num_classes": 100})
    expected = resnet_params(bottleneck, depths, width=32, classes=100)
    assert netspec.analyze(spec).params == expected
    model = netspec.build(spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model.conv1.out_channels == 32
    assert model.fc.in_features == 32 * 8 * (4 if bottleneck else 1)


def test_resnet18_width_32_by_hand() -> None:
    """Halving the width divides every conv weight by 4 and every BN and fc input by 2."""
    w = 32
    stem = 3 * w * 49 + 2 * w
    blocks = 2 * 2 * (9 * w * w + 2 * w)  # layer1: two blocks of two 3x3 convs + BN
    for planes in (2 * w, 4 * w, 8 * w):  # layer2-4: first block halves size, doubles channels
        half = planes // 2
        blocks += (9 * half * planes + 2 * planes) + (9 * planes * planes + 2 * planes)
        blocks += half * planes + 2 * planes  # projection shortcut
        blocks += 2 * (9 * planes * planes + 2 * planes)  # second block
    fc = 8 * w * 1000 + 1000
    spec = netspec.load(SPECS / "resnet18.yaml", params={"width": 32})
    assert netspec.analyze(spec).params == stem + blocks + fc == 3_055_880


def test_unknown_override_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(netspec.SpecError, match="did you mean width"):
        netspec.load(SPECS / "resnet18.yaml", params={"widht": 32})


def _cli_has_set() -> bool:
    """Whether ``netspec summary`` takes ``--set`` yet (the CLI is built separately)."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(["summary", "spec.yaml", "--set", "width=1"])
    except SystemExit:
        return False
    return True


@pytest.mark.skipif(not _cli_has_set(), reason="the CLI has no --set option yet")
def test_cli_set_overrides_params(capsys: pytest.CaptureFixture[str]) -> None:
    status = main([
        "summary", str(SPECS / "resnet20_cifar.yaml"), "--set", "num_classes=100",
        "--format", "json", "--no-confirm",
    ])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert data["output_shape"] == [100]
    # fc 64*10 + 10 becomes 64*100 + 100
    assert data["totals"]["params"] == 272_474 - 650 + 64 * 100 + 100
