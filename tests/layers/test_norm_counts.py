"""What the normalisation layers count and claim besides their shape: ``--explain``'s parameter
and buffer lines, buffers by dtype, and whether a per-channel bias before them is cancelled.

Parameter and buffer counts are torch's own (its modules' parameters and buffers); the bias
cancelling is checked by running torch's module on an input with and without a constant added
to each channel.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import pytest
import torch

import netspec
from netspec.layers.registry import kind_of
from netspec.views.explain import explain_row


def explained(layer: str, shape: list[int]) -> list[str]:
    """The ``--explain`` lines of a spec made of one layer."""
    report = netspec.analyze(netspec.load(f"input: {shape}\nlayers:\n  - {layer}\n"))
    return explain_row(report.layers[0])


def torch_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- params and buffers lines: channels C = 6 differ from H = W = 7 ---


def test_batch_norm_lines_count_weight_bias_and_statistics() -> None:
    # 6 weights + 6 biases; running mean and var (6 each) + num_batches_tracked (1)
    assert torch_params(torch.nn.BatchNorm2d(6)) == 12
    assert explained("BatchNorm2d", [6, 7, 7]) == ["params = 2*6 = 12", "buffers = 2*6 + 1 = 13"]


def test_batch_norm_without_bias_counts_the_weight_alone() -> None:
    assert torch_params(torch.nn.BatchNorm2d(6, bias=False)) == 6  # the weight alone
    assert explained("BatchNorm2d: {bias: false}", [6, 7, 7]) == [
        "params = 6 = 6", "buffers = 2*6 + 1 = 13"]


def test_norm_without_parameters_or_statistics_explains_only_what_it_has() -> None:
    # no affine: only the buffers; no statistics either: nothing to count
    assert explained("BatchNorm2d: {affine: false}", [6, 7, 7]) == ["buffers = 2*6 + 1 = 13"]
    assert explained("BatchNorm2d: {affine: false, track_running_stats: false}",
                     [6, 7, 7]) == []
    # InstanceNorm's defaults (affine and track_running_stats False) have neither
    assert explained("InstanceNorm2d", [6, 7, 7]) == []


def test_instance_norm_with_affine_and_statistics() -> None:
    module = torch.nn.InstanceNorm1d(6, affine=True, track_running_stats=True)
    assert (torch_params(module), sum(b.numel() for b in module.buffers())) == (12, 13)
    assert explained("InstanceNorm1d: {affine: true, track_running_stats: true}", [6, 7]) == [
        "params = 2*6 = 12", "buffers = 2*6 + 1 = 13"]


def test_group_norm_lines() -> None:
    assert torch_params(torch.nn.GroupNorm(3, 6)) == 12
    assert explained("GroupNorm: {num_groups: 3}", [6, 7, 7]) == ["params = 2*6 = 12"]
    assert torch_params(torch.nn.GroupNorm(3, 6, bias=False)) == 6
    assert explained("GroupNorm: {num_groups: 3, bias: false}", [6, 7, 7]) == ["params = 6 = 6"]
    assert explained("GroupNorm: {num_groups: 3, affine: false}", [6, 7, 7]) == []


def test_layer_norm_lines() -> None:
    # over the last dim, 32: a weight and a bias per element, no parentheses for one dim
    assert torch_params(torch.nn.LayerNorm(32)) == 64
    assert explained("LayerNorm", [10, 32]) == ["params = 2*32 = 64"]
    # over a 7x7 plane without the bias: 49 weights
    assert torch_params(torch.nn.LayerNorm([7, 7], bias=False)) == 49
    assert explained("LayerNorm: {normalized_shape: [7, 7], bias: false}", [6, 7, 7]) == [
        "params = (7*7) = 49"]
    assert explained("LayerNorm: {normalized_shape: [6, 7, 7]}", [6, 7, 7]) == [
        "params = 2*(6*7*7) = 588"]
    assert explained("LayerNorm: {elementwise_affine: false}", [10, 32]) == []


# --- buffers by dtype, as torch allocates them ---


def torch_buffer_dtypes(module: torch.nn.Module) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for buffer in module.buffers():
        counts[str(buffer.dtype).removeprefix("torch.")] += buffer.numel()
    return dict(counts)


@pytest.mark.parametrize(("kind", "args", "shape"), [
    ("BatchNorm2d", {}, (6, 7, 7)),
    ("BatchNorm1d", {"track_running_stats": False}, (6,)),
    ("InstanceNorm1d", {"track_running_stats": True}, (6, 7)),
    ("InstanceNorm3d", {}, (6, 3, 3, 3)),
])
def test_buffer_dtypes_are_torchs(kind: str, args: dict[str, Any], shape: tuple[int, ...]) -> None:
    layer = kind_of(kind).model_validate(args)
    module = getattr(torch.nn, kind)(shape[0], **args)
    assert layer.buffer_dtypes(shape) == torch_buffer_dtypes(module)


def test_batch_norm_buffers_are_two_float_vectors_and_one_int64() -> None:
    # running_mean and running_var: 2*6 float32; num_batches_tracked: one int64
    layer = kind_of("BatchNorm2d").model_validate({})
    assert layer.buffer_dtypes((6, 7, 7)) == {"float32": 12, "int64": 1}


# --- a constant added to each channel before the norm: cancelled or not ---


def torch_cancels(module: torch.nn.Module, shape: tuple[int, ...]) -> bool:
    """True when ``module`` (in training) gives the same output with a different constant
    added to each channel (dim 1 of the batch) of a fixed input."""
    x = torch.arange(2 * torch.Size(shape).numel(), dtype=torch.float32).reshape(2, *shape)
    x = torch.sin(x * 0.7) * 3
    shift = torch.arange(1, shape[0] + 1, dtype=torch.float32).reshape(
        1, shape[0], *[1] * (len(shape) - 1)) * 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # InstanceNorm on one dim fewer: num_features unused
        module.train()
        same = torch.allclose(module(x), module(x + shift), atol=1e-4)
    return bool(same)


@pytest.mark.parametrize(("kind", "args", "shape", "cancels"), [
    ("BatchNorm2d", {}, (4, 8, 8), True),
    ("BatchNorm1d", {}, (4,), True),
    ("InstanceNorm1d", {}, (4, 8), True),
    # one dim fewer: torch reads [N, C] as one input of N channels, each normalised over C
    ("InstanceNorm1d", {}, (4,), False),
    ("InstanceNorm2d", {}, (4, 8, 8), True),
    ("GroupNorm", {"num_groups": 4}, (4, 8, 8), True),  # one channel per group
    ("GroupNorm", {"num_groups": 2}, (4, 8, 8), False),  # two channels share a mean
    ("GroupNorm", {"num_groups": 1}, (4, 8, 8), False),
    # over the whole sample: the per-channel constants differ, so the mean does not take them
    ("LayerNorm", {"normalized_shape": [4, 8]}, (4, 8), False),
])
def test_cancels_channel_bias_as_torch_does(
    kind: str, args: dict[str, Any], shape: tuple[int, ...], cancels: bool
) -> None:
    layer = kind_of(kind).model_validate(args)
    if kind == "GroupNorm":
        module: torch.nn.Module = torch.nn.GroupNorm(args["num_groups"], shape[0])
    elif kind == "LayerNorm":
        module = torch.nn.LayerNorm(list(args["normalized_shape"]))
    else:
        module = getattr(torch.nn, kind)(shape[0])
    assert torch_cancels(module, shape) is cancels
    assert layer.cancels_channel_bias(shape) is cancels
