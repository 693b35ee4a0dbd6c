"""Composite layers asked on their own (``output_shape``, ``parameters``, ``receptive_field``...),
``Repeat`` and ``Sequential`` in detail, and the paths of errors inside composite lists.

Expected numbers come from torch's own modules built in the test, or from hand arithmetic written
beside them.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import torch
from torch import nn

import netspec
from netspec.core.shapes import AxisRF
from netspec.layers import BatchNorm2d, Conv2d, Identity, ReLU
from netspec.layers.base import ParamCount
from netspec.layers.branches import Parallel, Residual
from netspec.layers.composite import Repeat, Sequential


def torch_params(*modules: nn.Module) -> int:
    return sum(p.numel() for module in modules for p in module.parameters())


def problem_of(spec: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.analyze(netspec.load(spec))
    first = caught.value.problems[0]
    return tuple(first.path), first.message


def test_parallel_answers_on_its_own_as_torch_counts() -> None:
    """Branch 0: Conv2d(3, 4, 3, padding=1) (trainable); branch 1: Conv2d(3, 2, 1) then
    BatchNorm2d(2), both frozen. Concatenated: 6 channels of 8x8."""
    frozen = Conv2d(out_channels=2, kernel_size=1, trainable=False)
    layer = Parallel(branches=[
        [Conv2d(out_channels=4, kernel_size=3, padding=1)],
        [frozen, BatchNorm2d(trainable=False)],
    ])
    conv_a, conv_b, norm = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2)
    x = torch.zeros(1, 3, 8, 8)
    expected = torch.cat([conv_a(x), norm(conv_b(x))], dim=1).shape[1:]
    assert layer.output_shape((3, 8, 8)) == tuple(expected)
    assert layer.parameters((3, 8, 8)) == ParamCount(torch_params(conv_a),
                                                     torch_params(conv_b, norm))
    assert layer.parameter_count((3, 8, 8)) == torch_params(conv_a, conv_b, norm)
    # BatchNorm2d(2): running mean and var (2 each) and num_batches_tracked
    assert layer.buffer_count((3, 8, 8)) == sum(b.numel() for b in norm.buffers()) == 5
    # MACs: 64 outputs x (4 x 3*9) + 64 x (2 x 3); batch norm none (FlopCounterMode's count)
    assert layer.macs((3, 8, 8), (6, 8, 8)) == 64 * 4 * 27 + 64 * 2 * 3


def test_parallel_receptive_field_on_its_own_continues_the_incoming_field() -> None:
    """Incoming field per axis: size 3, jump 2, centre 1. Branch 0, a 3x3 convolution
    padded 1: size 3 + 2*2 = 7, centre 1 + (1 - 1)*2 = 1; branch 1, 1x1: size 3. The widest."""
    layer = Parallel(branches=[[Conv2d(out_channels=2, kernel_size=3, padding=1)],
                               [Conv2d(out_channels=2, kernel_size=1)]])
    incoming = (AxisRF(Fraction(3), Fraction(2), Fraction(1)),) * 2
    expected = AxisRF(Fraction(7), Fraction(2), Fraction(1))
    assert layer.receptive_field(incoming, (3, 8, 8)) == (expected,) * 2


def test_repeat_on_its_own_is_its_copies() -> None:
    """Two Conv2d(3, 3, 3) copies, each with its own parameters: 8 -> 6 -> 4; field 3 + 2 = 5,
    centre 1 + 1 = 2."""
    layer = Repeat(times=2, layers=[Conv2d(out_channels=3, kernel_size=3)])
    first, second = nn.Conv2d(3, 3, 3), nn.Conv2d(3, 3, 3)
    assert layer.output_shape((3, 8, 8)) == tuple(second(first(torch.zeros(1, 3, 8, 8))).shape[1:])
    assert layer.parameters((3, 8, 8)) == ParamCount(torch_params(first, second), 0)
    expected = AxisRF(Fraction(5), Fraction(1), Fraction(2))
    assert layer.receptive_field((AxisRF(),) * 2, (3, 8, 8)) == (expected,) * 2
    # MACs: 36 outputs x 3 x 27, then 16 x 3 x 27
    assert layer.macs((3, 8, 8), (3, 4, 4)) == (36 + 16) * 3 * 27


@pytest.mark.parametrize("trainable", [True, False])
def test_repeat_trainable_false_freezes_every_copy(trainable: bool) -> None:
    spec = {"input": [3, 8, 8], "layers": [{"Repeat": {
        "times": 2, "trainable": trainable,
        "layers": [{"Conv2d": {"out_channels": 3, "kernel_size": 3}}]}}]}
    report = netspec.analyze(netspec.load(spec))
    count = torch_params(nn.Conv2d(3, 3, 3), nn.Conv2d(3, 3, 3))
    assert (report.trainable_params, report.params) == ((count if trainable else 0), count)
    model = netspec.build(netspec.load(spec))
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == (
        count if trainable else 0)


def test_sequential_chain_lists_the_expanded_layers() -> None:
    conv = Conv2d(out_channels=3, kernel_size=3)
    group = Sequential(layers=[conv, Repeat(times=2, layers=[ReLU()]), Identity()])
    assert [layer.kind for layer in group.chain()] == ["Conv2d", "ReLU", "ReLU", "Identity"]
    assert group.chain()[0] is conv


def test_sequential_builds_into_an_nn_sequential() -> None:
    spec = {"input": [3, 8, 8], "layers": [{"Sequential": {
        "name": "features",
        "layers": [{"Conv2d": {"out_channels": 4, "kernel_size": 3}}, "ReLU"]}}]}
    model = netspec.build(netspec.load(spec))
    assert type(model.features) is nn.Sequential
    assert [type(m) for m in model.features] == [nn.Conv2d, nn.ReLU]


def test_merge_labels_and_added_paths() -> None:
    branches = [[Identity()], [Identity()]]
    labels = {merge: Parallel(branches=branches, merge=merge).merge_label()
              for merge in ("concat", "add", "mul")}
    assert labels == {"concat": "concat", "add": "+", "mul": "\N{MULTIPLICATION SIGN}"}
    assert [Parallel(branches=branches, merge=merge).adds_paths()
            for merge in ("concat", "add", "mul")] == [False, True, False]
    assert Residual(body=[Identity()]).adds_paths() is True
    assert Sequential(layers=[Identity()]).merge_label() is None


TOO_BIG = {"Conv2d": {"out_channels": 2, "kernel_size": 9}}


@pytest.mark.parametrize(("entry", "where"), [
    ({"Sequential": {"layers": [TOO_BIG]}}, ("Sequential", "layers", 0)),
    ({"Repeat": {"times": 2, "layers": [TOO_BIG]}}, ("Repeat", "layers", 0)),
    ({"Residual": {"body": [TOO_BIG], "shortcut": "identity"}}, ("Residual", "body", 0)),
    ({"Residual": {"body": ["ReLU"], "shortcut": [TOO_BIG]}}, ("Residual", "shortcut", 0)),
    ({"Residual": {"body": ["ReLU"], "post": [TOO_BIG]}}, ("Residual", "post", 0)),
    ({"Parallel": {"branches": [["ReLU"], [TOO_BIG]]}}, ("Parallel", "branches", 1, 0)),
])
def test_errors_inside_composites_name_the_list(entry: dict[str, Any],
                                                where: tuple[Any, ...]) -> None:
    """A 9x9 kernel on a 5x5 map, inside each kind of list: the error's path walks into it."""
    path, message = problem_of({"input": [2, 5, 5], "layers": [entry]})
    assert path == ("layers", 0, *where, "Conv2d", "kernel_size")
    assert "[2, 5, 5] is too small for kernel_size=9" in message
