"""Hand-written plain-PyTorch models: what a user writes without netspec.

VGG-16 as ``torchvision.models.vgg16`` builds it (138,357,544 parameters) and ResNet-50 as
``torchvision.models.resnet50`` (25,557,032), with torch's default initialisation, which is
what ``netspec.build`` gives too. No torchvision: the point is the plain-PyTorch alternative.
"""

from __future__ import annotations

import torch
from torch import nn

VGG16_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M"]


def vgg16(num_classes: int = 1000, width: int = 4096) -> nn.Sequential:
    """VGG-16 (configuration D): features, 7x7 average pool, flatten, classifier."""
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG16_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1), nn.ReLU()]
            channels = int(item)
    layers += [
        nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(),
        nn.Linear(512 * 7 * 7, width), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(width, width), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(width, num_classes),
    ]
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU()
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        planes_in = 64
        stages = []
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            stage = [Bottleneck(planes_in, planes, stride)]
            planes_in = planes * Bottleneck.expansion
            stage += [Bottleneck(planes_in, planes) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def billion(width: int = 18000, depth: int = 4) -> nn.Sequential:
    """The MLP of ``benchmarks/specs/billion.yaml``: about a billion parameters."""
    layers: list[nn.Module] = [nn.Flatten()]
    features = 3 * 32 * 32
    for _ in range(depth):
        layers += [nn.Linear(features, width), nn.ReLU()]
        features = width
    layers.append(nn.Linear(features, 1000))
    return nn.Sequential(*layers)
