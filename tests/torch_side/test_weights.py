"""``netspec.init_weights``: a model built on the meta device, materialised, then initialised.

With the same seed it must equal a model built directly (same initialisation, module by module,
in build order), with batch-norm statistics reset and frozen layers still frozen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import netspec

SPECS = Path(__file__).resolve().parents[2] / "specs"
SMALL = ["lenet5", "resnet20_cifar", "squeezenet1_0", "mobilenet_v2", "audio_cnn_1d",
         "volume_cnn_3d", "nin"]


@pytest.mark.parametrize("name", SMALL)
def test_meta_build_materialised_and_initialised_equals_a_direct_build(name: str) -> None:
    spec = netspec.load(SPECS / f"{name}.yaml")
    model = netspec.build(spec, device="meta")
    model.to_empty(device="cpu")
    netspec.init_weights(model, seed=7)
    torch.manual_seed(7)
    direct = netspec.build(spec)
    mine, theirs = model.state_dict(), direct.state_dict()
    assert list(mine) == list(theirs)
    for key, value in theirs.items():
        assert torch.equal(mine[key], value), key


def test_frozen_layers_stay_frozen_and_statistics_are_reset() -> None:
    spec = netspec.load({"input": [3, 8, 8], "layers": [
        {"Conv2d": {"out_channels": 4, "kernel_size": 3, "trainable": False}},
        "BatchNorm2d", {"PReLU": {"num_parameters": 4}}]})
    model = netspec.build(spec, device="meta").to_empty(device="cpu")
    netspec.init_weights(model)
    assert not any(p.requires_grad for p in model[0].parameters())
    assert torch.equal(model[1].running_mean, torch.zeros(4))
    assert torch.equal(model[1].running_var, torch.ones(4))
    assert int(model[1].num_batches_tracked) == 0
    assert torch.equal(model[2].weight, torch.full((4,), 0.25))


def test_a_model_still_on_the_meta_device_is_an_error() -> None:
    model = netspec.build({"input": [4], "layers": [{"Linear": {"out_features": 2}}]},
                          device="meta")
    with pytest.raises(netspec.NetspecError, match="to_empty"):
        netspec.init_weights(model)


def test_a_module_without_reset_parameters_is_an_error() -> None:
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.factor = nn.Parameter(torch.ones(()))

    with pytest.raises(netspec.NetspecError, match=r"1 \(Scale\): no reset_parameters"):
        netspec.init_weights(nn.Sequential(nn.Linear(2, 2), Scale()))
