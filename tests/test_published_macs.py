"""MACs of the bundled torchvision networks against torchvision's published GFLOPS.

torchvision publishes, for each set of ImageNet weights, ``_ops`` ("GFLOPS" in its model table,
pytorch.org/vision/stable/models.html), which is the count of multiply-accumulates of
convolutions (without bias) and linear layers at the resolution it evaluates the model at
(224x224; 299x299 for Inception v3 and 384x384 for EfficientNet-V2-S, each spec's input).
netspec's totals must equal them to the published precision, and equal torch's own
``FlopCounterMode`` (FLOPs / 2) on the built module exactly: the meta device runs the forward
pass, so VGG-16 costs no memory.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import netspec

SPECS = Path(__file__).resolve().parent.parent / "specs"

PUBLISHED_GMACS = [  # torchvision's *_Weights.IMAGENET1K_V1.meta["_ops"]
    ("alexnet", "0.714"),
    ("vgg11", "7.609"),
    ("vgg16", "15.47"),
    ("vgg16_bn", "15.47"),
    ("resnet18", "1.814"),
    ("resnet34", "3.664"),
    ("resnet50", "4.089"),
    ("squeezenet1_0", "0.819"),
    ("googlenet", "1.498"),
    ("mobilenet_v2", "0.301"),
    ("resnext50_32x4d", "4.23"),
    ("wide_resnet50_2", "11.398"),
    ("inception_v3", "5.713"),  # at 299x299, the spec's input
    ("densenet121", "2.834"),
    ("mnasnet1_0", "0.314"),
    ("mobilenet_v3_large", "0.217"),
    ("mobilenet_v3_small", "0.057"),
    ("shufflenet_v2_x1_0", "0.145"),
    ("efficientnet_b0", "0.386"),
    ("efficientnet_v2_s", "8.366"),  # at 384x384, the spec's input
    ("regnet_x_400mf", "0.414"),
    ("regnet_y_400mf", "0.402"),
    ("convnext_tiny", "4.456"),
    ("vit_b_16", "17.564"),
    ("swin_t", "4.491"),
    ("maxvit_t", "5.558"),
]


@pytest.mark.parametrize(("name", "published"), PUBLISHED_GMACS,
                         ids=[name for name, _ in PUBLISHED_GMACS])
def test_total_macs_equal_torchvisions_published_gflops(name: str, published: str) -> None:
    macs = netspec.analyze(netspec.load(SPECS / f"{name}.yaml")).macs
    places = Decimal(published)
    assert (Decimal(macs) / 10**9).quantize(places) == places


@pytest.mark.parametrize(("name", "published"), PUBLISHED_GMACS,
                         ids=[name for name, _ in PUBLISHED_GMACS])
def test_total_macs_equal_flop_counter_mode_on_the_built_module(name: str, published: str
                                                                 ) -> None:
    spec = netspec.load(SPECS / f"{name}.yaml")
    report = netspec.analyze(spec)
    model = netspec.build(spec, device="meta").eval()
    # attention through the plain matrix products: FlopCounterMode has no formula for the fused
    # kernels that nn.MultiheadAttention and scaled_dot_product_attention use by default on CPU
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH), torch.no_grad(), \
                FlopCounterMode(display=False) as counter:
            model(torch.empty(1, *spec.input, device="meta"))
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)
    assert counter.get_total_flops() == 2 * report.macs


def test_the_lectures_convolution_does_36000_multiply_accumulates() -> None:
    """``Conv2d(1, 3, (4, 5))`` on 28x28: 3 maps of 25x24 outputs, each 1*4*5 products."""
    spec = netspec.load({"input": [1, 28, 28], "layers": [
        {"Conv2d": {"out_channels": 3, "kernel_size": [4, 5]}}]})
    assert netspec.analyze(spec).macs == 3 * 25 * 24 * (1 * 4 * 5) == 36_000
    assert re.search(r"^MACs \(per sample\): +36,000$",
                     netspec.summary(spec, confirm=False).to_table(), re.M)
