"""``Gate``'s refusal of a gate that does not broadcast, and ``--explain`` lines of ``Gate``
and of ``Chunk`` worked by hand: the gate's own output shape (its last layer's, checked against
the built gate), a receptive field that stays positional (no "whole input"), and the centre a
spatial ``Chunk`` moves."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import netspec
from netspec.core.errors import NetspecError
from netspec.layers.gating import _sizes
from netspec.views.explain import explain


def lines(shape: list[int], *layers: Any) -> list[str]:
    report = netspec.analyze(netspec.load({"input": shape, "layers": list(layers)}))
    return [line.strip() for line in explain(report).splitlines()]


def test_a_gate_that_does_not_broadcast_says_what_torch_allows() -> None:
    """The gate pools [8, 5, 5] to [8, 2, 2]: 2 is neither 5 nor 1; torch refuses it too."""
    x = torch.zeros(1, 8, 5, 5)
    with pytest.raises(RuntimeError):
        _ = x * torch.nn.AdaptiveAvgPool2d(2)(x)
    with pytest.raises(NetspecError) as error:
        netspec.analyze(netspec.load({"input": [8, 5, 5], "layers": [
            {"Gate": {"layers": [{"AdaptiveAvgPool2d": {"output_size": 2}}]}}]}))
    (problem,) = error.value.problems
    assert problem.message == (
        "the gate gives [8, 2, 2], which does not broadcast to the input [8, 5, 5] it multiplies "
        "(torch's rules: the same number of dims, each the input's size or 1)")
    assert problem.path == ("layers", 0, "Gate", "layers")


def test_the_gate_shape_is_its_last_layers() -> None:
    """Pooled to [4, 1, 1] and then a 1x1 conv to one channel: the gate is [1, 1, 1]."""
    gate = [{"AdaptiveAvgPool2d": {"output_size": 1}},
            {"Conv2d": {"out_channels": 1, "kernel_size": 1}}]
    built = netspec.build(netspec.load({"input": [4, 6, 6], "layers": gate}))
    assert built(torch.zeros(2, 4, 6, 6)).shape[1:] == (1, 1, 1)
    assert "out = x * g(x): [4, 6, 6] * [1, 1, 1] = [4, 6, 6]" in lines(
        [4, 6, 6], {"Gate": {"layers": gate}})


def test_a_spatial_gate_is_not_called_whole() -> None:
    """x: 3x3 conv, padding 1 (field 3 on 12x12); the gate's 5x5 conv, padding 2, on top:
    3 + (5 - 1)*1 = 7, still a window of the 12x12 input."""
    got = lines(
        [1, 12, 12],
        {"Conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
        {"Gate": {"layers": [{"Conv2d": {"out_channels": 1, "kernel_size": 5, "padding": 2}},
                             "Sigmoid"]}},
    )
    assert "RF = union of x's 3x3 and the gate's 7x7 = 7x7" in got


def test_sizes_of_a_field_without_spatial_axes_is_a_dash() -> None:
    assert _sizes(()) == "-"


def test_a_spatial_chunk_moves_the_centre() -> None:
    """3x3 conv, no padding, on 10x10: 8x8, field 3, jump 1, centre 1. Chunk 2 of dim 2 (the
    width, 8): pieces of 4, index 1 starts at 4: centre 1 + 4*1 = 5."""
    got = lines([1, 10, 10], {"Conv2d": {"out_channels": 2, "kernel_size": 3}},
                {"Chunk": {"chunks": 2, "index": 1, "dim": 2}})
    assert "centre = 1 + 4*1 = 5; RF and jump unchanged" in got


def test_chunk_pieces_of_unequal_size_name_the_first() -> None:
    """5 channels in 2: ceil(5/2) = 3, pieces 3 and 2; index 1 holds positions 3 and 4."""
    assert [p.shape[1] for p in torch.zeros(1, 5, 4, 4).chunk(2, dim=1)] == [3, 2]
    got = lines([5, 4, 4], {"Chunk": {"chunks": 2, "index": 1}})
    assert "pieces of ceil(5/2) = 3: [3, 2]; index 1: positions 3 to 4 of dim 0" in got


def test_a_misaligned_gate_names_both_paths() -> None:
    """The input's field: 1 pixel, jump 1, centre 0. The gate: a 3x3 conv without padding on 12
    (10 units, jump 1, the first centred on pixel 1), resized to 12 (a step of 10/12 = 5/6 of
    a unit; nearest: output 0 reads unit 0, centre 1). The units would not line up."""
    with pytest.raises(NetspecError) as error:
        netspec.analyze(netspec.load({"input": [1, 12, 12], "layers": [{"Gate": {"layers": [
            {"Conv2d": {"out_channels": 1, "kernel_size": 3}}, {"Upsample": {"size": 12}}]}}]}))
    (problem,) = error.value.problems
    assert problem.message == (
        "Gate merges misaligned receptive fields on spatial axis 0: the input has jump 1 and "
        "centre 0, the gate has jump 5/6 and centre 1; match their strides and paddings")
