"""Published parameter counts and output shapes of the bundled classic networks.

The expected numbers come from their publishers, never from netspec:

- LeNet-5 and NiN: Dive into Deep Learning (d2l.ai), sections 7.6 and 8.3, whose PyTorch code
  the specs transcribe; the counts are worked out layer by layer below.
- AlexNet, VGG-11, VGG-16: the ``num_params`` of the ImageNet weights in the torchvision docs,
  pytorch.org/vision/stable/models/generated/torchvision.models.{alexnet,vgg11,vgg16}.html
  (AlexNet_Weights.IMAGENET1K_V1: 61,100,840; VGG11_Weights.IMAGENET1K_V1: 132,863,336;
  VGG16_Weights.IMAGENET1K_V1: 138,357,544).

Each count is checked twice: netspec's analysis (no torch) and the built ``nn.Sequential``,
built on the meta device so that VGG's 500 MB of weights are never allocated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netspec

SPECS = Path(__file__).resolve().parent.parent / "specs"


def conv(c_in: int, c_out: int, k: int) -> int:
    """Weights and biases of a k x k convolution."""
    return c_out * c_in * k * k + c_out


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# d2l LeNet: conv 1->6 k5, conv 6->16 k5, then 16*5*5 -> 120 -> 84 -> 10.
LENET5 = conv(1, 6, 5) + conv(6, 16, 5) + linear(400, 120) + linear(120, 84) + linear(84, 10)


def nin_block(c_in: int, c_out: int, k: int) -> int:
    """One spatial convolution and two 1x1 convolutions."""
    return conv(c_in, c_out, k) + 2 * conv(c_out, c_out, 1)


# d2l NiN: blocks 1->96 k11, 96->256 k5, 256->384 k3, 384->10 k3; no Linear layer.
NIN = nin_block(1, 96, 11) + nin_block(96, 256, 5) + nin_block(256, 384, 3) + nin_block(384, 10, 3)

PUBLISHED = [
    # (spec file, parameters, output shape)
    ("lenet5.yaml", 61_706, (10,)),
    ("alexnet.yaml", 61_100_840, (1000,)),  # torchvision AlexNet_Weights num_params
    ("vgg11.yaml", 132_863_336, (1000,)),  # torchvision VGG11_Weights num_params
    ("vgg16.yaml", 138_357_544, (1000,)),  # torchvision VGG16_Weights num_params
    ("nin.yaml", 1_992_166, (10,)),
]


def test_hand_counts_match_the_published_figures() -> None:
    assert LENET5 == 61_706
    assert NIN == 1_992_166


@pytest.mark.parametrize(("file", "params", "output"), PUBLISHED)
def test_analysis_gives_the_published_count(file: str, params: int, output: tuple[int]) -> None:
    report = netspec.analyze(netspec.load(SPECS / file))
    assert report.params == params
    assert report.trainable_params == params
    assert report.output_shape == output


@pytest.mark.parametrize(("file", "params", "output"), PUBLISHED)
def test_built_model_has_the_published_count(file: str, params: int, output: tuple[int]) -> None:
    spec = netspec.load(SPECS / file)
    model = netspec.build(spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == params
    with torch.no_grad():
        out = model.eval()(torch.empty(1, *spec.input, device="meta"))
    assert tuple(out.shape) == (1, *output)


def test_alexnet_feature_map_sizes() -> None:
    """By hand: 224 -> 55 (conv 11/4 pad 2) -> 27 -> 13 -> 6 (three 3/2 max pools), 256x6x6."""
    report = netspec.analyze(netspec.load(SPECS / "alexnet.yaml"))
    first = (224 + 2 * 2 - 11) // 4 + 1
    pooled = [(first - 3) // 2 + 1]
    pooled.append((pooled[0] - 3) // 2 + 1)
    pooled.append((pooled[1] - 3) // 2 + 1)
    assert (first, *pooled) == (55, 27, 13, 6)
    spatial = [row.out_shape[1] for row in report.layers if len(row.out_shape) == 3]
    assert spatial[:3] == [55, 55, 27]
    assert next(row.out_shape for row in report.layers if len(row.out_shape) == 1) == (256 * 6 * 6,)


def test_nin_ends_with_one_map_per_class() -> None:
    report = netspec.analyze(netspec.load(SPECS / "nin.yaml"))
    side = (224 - 11) // 4 + 1  # 54
    for _ in range(3):
        side = (side - 3) // 2 + 1  # 26, 12, 5
    assert side == 5
    assert report.layers[-3].out_shape == (10, 5, 5)
    assert report.layers[-2].out_shape == (10, 1, 1)


def batchnorm(channels: int) -> int:
    """BatchNorm's trained weight and bias (its running statistics are buffers)."""
    return 2 * channels


def conv_nobias(c_in: int, c_out: int, k: int, rank: int) -> int:
    return c_out * c_in * k**rank


# The other bundled specs have no published count; these are worked out from their layers.
HAND_COUNTED = [
    ("seed_conv.yaml", 3 * 1 * 4 * 5 + 3, (3, 25, 24)),
    ("mlp_mnist.yaml", linear(784, 256) + linear(256, 10), (10,)),
    # M5: Conv1d 1->32 k80, then 32->32, 32->64, 64->64 with k3, each with BatchNorm1d; fc 64->35
    (
        "audio_cnn_1d.yaml",
        (32 * 80 + 32) + (32 * 32 * 3 + 32) + (64 * 32 * 3 + 64) + (64 * 64 * 3 + 64)
        + batchnorm(32) * 2 + batchnorm(64) * 2 + linear(64, 35),
        (35,),
    ),
    # Three bias-free 3x3x3 Conv3d 1->16->32->64, each with BatchNorm3d; Linear 64->2
    (
        "volume_cnn_3d.yaml",
        conv_nobias(1, 16, 3, 3) + conv_nobias(16, 32, 3, 3) + conv_nobias(32, 64, 3, 3)
        + batchnorm(16) + batchnorm(32) + batchnorm(64) + linear(64, 2),
        (2,),
    ),
]


@pytest.mark.parametrize(("file", "params", "output"), HAND_COUNTED)
def test_hand_counted_specs(file: str, params: int, output: tuple[int, ...]) -> None:
    spec = netspec.load(SPECS / file)
    report = netspec.analyze(spec)
    assert report.params == params
    assert report.output_shape == output
    assert sum(p.numel() for p in netspec.build(spec, device="meta").parameters()) == params
