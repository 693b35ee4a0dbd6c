"""The errors of the normalisation layers as a user reads them: the whole message (what was
received, what is allowed, what to do) and the argument it points at.

Each expected message is the rule written out by hand for the example; where torch refuses the
same input, the test shows torch's refusal too.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import netspec
from netspec.core.errors import NetspecError, Problem


def problem_of(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> Problem:
    """The one problem netspec reports for a spec of a single layer."""
    with pytest.raises(NetspecError) as error:
        netspec.analyze(netspec.load({"input": list(in_shape), "layers": [{kind: args}]}))
    (problem,) = error.value.problems
    return problem


def test_group_norm_of_single_values_names_the_groups_and_points_at_num_groups() -> None:
    # 4 channels in 4 groups on 1x1 positions: 4 // 4 * 1 = 1 value per group; torch refuses
    # it in training on a batch of one.
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.GroupNorm(4, 4)(torch.zeros(1, 4, 1, 1))
    problem = problem_of("GroupNorm", {"num_groups": 4}, (4, 1, 1))
    assert problem.message == (
        "each of the 4 groups would hold a single value of the input [4, 1, 1], which torch "
        "refuses to normalise in training; use fewer groups"
    )
    assert problem.path == ("layers", 0, "GroupNorm", "num_groups")


def test_group_norm_of_two_values_per_group_is_taken() -> None:
    # 4 channels in 2 groups on 1x1: 4 // 2 * 1 = 2 values per group, which torch normalises.
    assert torch.nn.GroupNorm(2, 4)(torch.zeros(1, 4, 1, 1)).shape == (1, 4, 1, 1)
    spec = netspec.load({"input": [4, 1, 1], "layers": [{"GroupNorm": {"num_groups": 2}}]})
    assert netspec.analyze(spec).layers[0].out_shape == (4, 1, 1)


def test_group_norm_written_num_channels_must_be_the_input_channels() -> None:
    problem = problem_of("GroupNorm", {"num_groups": 2, "num_channels": 8}, (4, 3, 3))
    assert problem.message == (
        "num_channels follows from the input shape [4, 3, 3] and must be 4; received "
        "num_channels=8 (leave it out to have it inferred)"
    )
    assert problem.path == ("layers", 0, "GroupNorm", "num_channels")


def test_layer_norm_mismatch_points_at_normalized_shape() -> None:
    # [7, 8] is not the trailing dims [7, 7] of the sample [64, 7, 7]
    problem = problem_of("LayerNorm", {"normalized_shape": [7, 8]}, (64, 7, 7))
    assert problem.message == (
        "normalized_shape must equal the trailing dims of one sample; received "
        "normalized_shape=[7, 8] for the input [64, 7, 7]"
    )
    assert problem.path == ("layers", 0, "LayerNorm", "normalized_shape")


def test_batch_norm_1d_lists_both_layouts_it_takes() -> None:
    # BatchNorm1d takes [C] features or [C, L] sequences; torch refuses a 4-d batch.
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        torch.nn.BatchNorm1d(3)(torch.zeros(2, 3, 4, 5))
    problem = problem_of("BatchNorm1d", {}, (3, 4, 5))
    assert problem.message == (
        "BatchNorm1d expects one sample shaped [C] or [C, L] (1 or 2 dims); received [3, 4, 5]"
    )


def test_instance_norm_2d_lists_both_layouts_it_takes() -> None:
    # [C, H, W], or one dim fewer read by torch as unbatched: 2 or 3 dims, not 1
    problem = problem_of("InstanceNorm2d", {}, (3,))
    assert problem.message == (
        "InstanceNorm2d expects one sample shaped [C, L] or [C, H, W] (2 or 3 dims); "
        "received [3]"
    )


def test_instance_norm_written_num_features_must_be_the_input_channels() -> None:
    problem = problem_of("InstanceNorm2d", {"num_features": 8}, (16, 4, 4))
    assert problem.message == (
        "num_features follows from the input shape [16, 4, 4] and must be 16; received "
        "num_features=8 (leave it out to have it inferred)"
    )
    assert problem.path == ("layers", 0, "InstanceNorm2d", "num_features")
