"""torchvision's later classification families as specs: each gives its published parameter
count and a [1000] output, by the analysis (no torch) and on a model built on the meta device.

The expected numbers come from their publisher, never from netspec: the ``num_params`` of the
ImageNet weights in the torchvision docs (pytorch.org/vision/stable/models/generated/
torchvision.models.<name>.html), the ``IMAGENET1K_V1`` weights of each. ``inception_v3`` is the
network without its auxiliary classifier (27,161,264 with it: torchvision builds it to load the
weights). The specs' headers say where their registration order differs from torchvision's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netspec

SPECS = Path(__file__).resolve().parent.parent / "specs"

PUBLISHED = {
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
    "inception_v3": 23_834_568,
    "densenet121": 7_978_856,
    "mnasnet1_0": 4_383_312,
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
    "shufflenet_v2_x1_0": 2_278_604,
    "efficientnet_b0": 5_288_548,
    "efficientnet_v2_s": 21_458_488,
    "regnet_x_400mf": 5_495_976,
    "regnet_y_400mf": 4_344_144,
    "convnext_tiny": 28_589_128,
}


@pytest.mark.parametrize(("name", "params"), PUBLISHED.items(), ids=list(PUBLISHED))
def test_published_parameter_count_and_output(name: str, params: int) -> None:
    spec = netspec.load(SPECS / f"{name}.yaml")
    assert spec.name == name
    report = netspec.analyze(spec)
    assert report.params == params
    assert report.output_shape == (1000,)
    model = netspec.build(spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == params
    with torch.no_grad():
        out = model(torch.empty(2, *spec.input, device="meta"))
    assert tuple(out.shape) == (2, 1000)
