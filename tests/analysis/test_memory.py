"""Memory: weights by dtype and activations, against a hand count, the built module and
torchinfo's own estimate."""

from __future__ import annotations

from math import prod
from pathlib import Path

import pytest
import torch
import torchinfo

import netspec
from netspec.analysis.memory import leaf_rows, memory

SPECS = Path(__file__).parents[2] / "specs"


def test_lenet5_by_hand() -> None:
    report = netspec.analyze(netspec.load(SPECS / "lenet5.yaml"))
    counted = memory(report, batch=64)
    # 61,706 float32 parameters, no buffers
    assert counted.parameter_bytes == {"float32": 61_706 * 4}
    assert counted.buffer_bytes == {}
    # outputs: c1 6*28*28 = 4,704 (and its Sigmoid), pool 6*14*14 = 1,176, c3 16*10*10 = 1,600
    # (and its Sigmoid), pool and Flatten 400 each, f5 120 and f6 84 (each with a Sigmoid), 10
    outputs = 2 * 4_704 + 1_176 + 2 * 1_600 + 2 * 400 + 2 * 120 + 2 * 84 + 10
    assert counted.training_bytes == (784 + outputs) * 4  # the input too: 63,144 bytes
    assert counted.inference_bytes == (4_704 + 4_704) * 4  # the first Sigmoid's in and out
    assert counted.batch_inference_bytes == 61_706 * 4 + 64 * 37_632
    assert counted.batch_training_bytes == 2 * 61_706 * 4 + 64 * 63_144  # with gradients


@pytest.mark.parametrize("name", ["resnet18", "vgg16_bn", "mobilenet_v2"])
def test_weights_by_dtype_equal_the_built_module(name: str) -> None:
    report = netspec.analyze(netspec.load(SPECS / f"{name}.yaml"))
    model = netspec.build(SPECS / f"{name}.yaml", device="meta")
    buffers: dict[str, int] = {}
    for buffer in model.buffers():
        dtype = str(buffer.dtype).removeprefix("torch.")
        buffers[dtype] = buffers.get(dtype, 0) + buffer.numel() * buffer.element_size()
    counted = memory(report)
    assert counted.buffer_bytes == buffers
    assert counted.parameter_bytes == {
        "float32": sum(p.numel() * p.element_size() for p in model.parameters())}


ZOO = ["lenet5", "alexnet", "resnet18", "mobilenet_v2", "googlenet"]


@pytest.mark.parametrize("name", ZOO)
def test_against_torchinfos_estimate(name: str) -> None:
    """torchinfo's "Params size" is the parameters' bytes; its "Forward/backward pass size" is
    twice the outputs of the leaf layers with parameters. netspec's training figure counts every
    layer's output, so it is at least torchinfo's half."""
    spec = netspec.load(SPECS / f"{name}.yaml")
    report = netspec.analyze(spec)
    model = netspec.build(spec, device="meta")
    stats = torchinfo.summary(model, input_data=torch.empty(1, *spec.input, device="meta"),
                              verbose=0, mode="eval")
    counted = memory(report)
    assert stats.total_param_bytes == sum(counted.parameter_bytes.values())
    with_params = sum(prod(row.out_shape) for row in leaf_rows(report.layers) if row.params)
    assert stats.total_output_bytes == 2 * 4 * with_params
    assert counted.training_bytes >= stats.total_output_bytes // 2
    # torchinfo's "Input size" is the tensor's bytes plus Python's 64-byte object header
    assert stats.total_input == counted.input_bytes + 64


def test_the_confirmation_reports_torchinfos_estimate() -> None:
    spec = netspec.load(SPECS / "resnet18.yaml")
    result = netspec.summary(spec)
    model = netspec.build(spec, device="meta")
    stats = torchinfo.summary(model, input_data=torch.empty(1, 3, 224, 224, device="meta"),
                              verbose=0, mode="eval")
    assert result.confirmation is not None
    assert result.confirmation["torchinfo_params_bytes"] == stats.total_param_bytes
    assert result.confirmation["torchinfo_forward_backward_bytes"] == stats.total_output_bytes
    assert result.confirmation["torchinfo_mult_adds"] == stats.total_mult_adds
    assert result.to_dict()["memory"]["batch"] == 1
