"""``Flatten`` and ``Unflatten`` as a user reads them: each error's whole message and the
argument it points at (torch refusing the same dims where it does), the ``--explain`` lines,
and the fields of columns that no reshape may turn unknown (the channel marker, whole axes)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import netspec
from netspec.core.errors import NetspecError, Problem
from netspec.core.shapes import CHANNEL_AXIS

BATCH = "Dims count the batch as in torch: the first dim of a sample is 1"


def problem_of(kind: str, args: dict[str, Any], in_shape: tuple[int, ...] = (3, 8, 9)
               ) -> Problem:
    with pytest.raises(NetspecError) as error:
        netspec.load({"input": list(in_shape), "layers": [{kind: args}]})
    (problem,) = error.value.problems
    return problem


@pytest.mark.parametrize(("args", "message"), [
    # -4 is dim 0 of [N, 3, 8, 9], the batch; torch takes it as dim 0 too
    ({"start_dim": -4}, f"start_dim=-4 is the batch dimension N of [N, 3, 8, 9]: merging it "
                        f"would mix samples. {BATCH}"),
    ({"start_dim": 0, "end_dim": 1}, f"start_dim=0 is the batch dimension N of [N, 3, 8, 9]: "
                                     f"merging it would mix samples. {BATCH}"),
    ({"start_dim": 3, "end_dim": 2}, "start_dim cannot come after end_dim; received "
                                     "start_dim=3, end_dim=2 (dims 3 and 2 of the batched "
                                     "input [N, 3, 8, 9])"),
])
def test_flatten_refusals_point_at_start_dim(args: dict[str, Any], message: str) -> None:
    problem = problem_of("Flatten", args)
    assert problem.path == ("layers", 0, "Flatten", "start_dim")
    assert problem.message == message


def test_flatten_of_the_batch_dim_alone_is_allowed() -> None:
    """start_dim = end_dim = 0 merges nothing (torch: the same tensor)."""
    assert torch.zeros(2, 3, 8, 9).flatten(0, 0).shape == (2, 3, 8, 9)
    spec = netspec.load({"input": [3, 8, 9], "layers": [
        {"Flatten": {"start_dim": 0, "end_dim": 0}}]})
    assert netspec.analyze(spec).output_shape == (3, 8, 9)


def test_an_end_dim_past_the_input_names_the_range() -> None:
    with pytest.raises(IndexError):
        nn.Flatten(1, 7)(torch.zeros(2, 3, 8, 9))
    problem = problem_of("Flatten", {"end_dim": 7})
    assert problem.path == ("layers", 0, "Flatten", "end_dim")
    assert problem.message == ("end_dim must be in [-4, 3] for the batched input [N, 3, 8, 9] "
                               "(dims count the batch, as in torch); received end_dim=7")


@pytest.mark.parametrize(("args", "field", "message"), [
    ({"dim": 0, "unflattened_size": [1, 1]}, "dim",
     f"dim=0 is the batch dimension N of [N, 3, 8, 9]: splitting it would mix samples. {BATCH}"),
    ({"dim": 5, "unflattened_size": [1, 1]}, "dim",
     "dim must be in [-4, 3] for the batched input [N, 3, 8, 9] (dims count the batch, as in "
     "torch); received dim=5"),
    ({"dim": 1, "unflattened_size": [2, -1]}, "unflattened_size",
     "unflattened_size must multiply to the size of dim 1, 3 (input [N, 3, 8, 9]); received "
     "[2, -1]: 3 is not a multiple of 2"),
    ({"dim": 1, "unflattened_size": [2, 2]}, "unflattened_size",
     "unflattened_size must multiply to the size of dim 1, 3 (input [N, 3, 8, 9]); received "
     "[2, 2]: their product is 4"),
])
def test_unflatten_refusals(args: dict[str, Any], field: str, message: str) -> None:
    problem = problem_of("Unflatten", args)
    assert problem.path == ("layers", 0, "Unflatten", field)
    assert problem.message == message


def test_an_inferred_size_is_an_integer() -> None:
    """[3, 8, 9] with W split into [3, -1]: -1 is 9 // 3 = 3, an int in shapes and JSON."""
    spec = netspec.load({"input": [3, 8, 9], "layers": [
        {"Unflatten": {"dim": 3, "unflattened_size": [3, -1]}}]})
    shape = netspec.analyze(spec).output_shape
    assert shape == (3, 8, 3, 3)
    assert [type(size) for size in shape] == [int] * 4


def test_flatten_explains_the_product_of_the_merged_dims_only() -> None:
    """[3, 8, 9], channels and H merged: 3*8 = 24; W stays out of the product."""
    spec = netspec.load({"input": [3, 8, 9], "layers": [
        {"Flatten": {"start_dim": 1, "end_dim": 2}}]})
    row = netspec.analyze(spec).layers[0]
    assert row.layer is not None
    assert row.layer.explain_shape(row.in_shape, row.out_shape) == ["out = 3*8 = 24"]


def test_flatten_after_the_layout_is_lost_explains_no_field() -> None:
    """Flattened, then split again ([216] -> [6, 36]): the columns follow no dims, so a
    second Flatten has no axis to explain."""
    spec = netspec.load({"input": [3, 8, 9], "layers": [
        "Flatten", {"Unflatten": {"dim": 1, "unflattened_size": [6, 36]}}, "Flatten"]})
    row = netspec.analyze(spec).layers[2]
    assert row.layer is not None
    assert row.out_shape == (216,)
    assert row.layer.explain_field(row.in_rf, row.in_shape) == []


def test_unflatten_keeps_the_channel_marker_and_whole_axes() -> None:
    """[H, W, C] = [6, 6, 4], the channels split in two: H and W can no longer be followed,
    but the channel column stays the marker. After a pool to one row, H (whole) stays whole
    when W is split."""
    split_channels = netspec.analyze(netspec.load({"input": [4, 6, 6], "layers": [
        {"Permute": {"dims": [1, 2, 0]}},
        {"Unflatten": {"dim": 3, "unflattened_size": [2, 2]}}]}))
    h, w, channels = split_channels.rf
    assert (h.known, w.known, channels) == (False, False, CHANNEL_AXIS)
    split_width = netspec.analyze(netspec.load({"input": [4, 6, 6], "layers": [
        {"AdaptiveAvgPool2d": {"output_size": [1, 6]}},
        {"Unflatten": {"dim": 3, "unflattened_size": [2, 3]}}]}))
    h, w = split_width.rf
    assert (h.known, h.positional, h.size) == (True, False, 6)
    assert (w.positional, w.size) == (False, 6)
