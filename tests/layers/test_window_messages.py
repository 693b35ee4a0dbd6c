"""The errors of Swin's and MaxViT's kinds as a user reads them: the whole message (what was
received, what is allowed, what to do) and the argument it points at."""

from __future__ import annotations

from typing import Any

import pytest

import netspec
from netspec.core.errors import NetspecError, Problem


def problem_of(entry: Any, in_shape: list[int]) -> Problem:
    """The one problem netspec reports for a spec of a single layer."""
    with pytest.raises(NetspecError) as error:
        netspec.analyze(netspec.load({"input": in_shape, "layers": [entry]}))
    (problem,) = error.value.problems
    return problem


@pytest.mark.parametrize("kind", ["ShiftedWindowAttention", "PatchMerging"])
def test_a_written_dim_must_be_the_maps_channels(kind: str) -> None:
    """[8, 8, 6] has 6 channels, last; writing dim 8 is refused by the analysis at ``dim``."""
    args: dict[str, Any] = {"window_size": 4, "num_heads": 2} if kind != "PatchMerging" else {}
    problem = problem_of({kind: {**args, "dim": 8}}, [8, 8, 6])
    assert problem.message == (
        "dim follows from the input shape [8, 8, 6] and must be 6; received dim=8 (leave it "
        "out to have it inferred)")
    assert problem.path == ("layers", 0, kind, "dim")
    spec = netspec.load({"input": [8, 8, 6], "layers": [{kind: {**args, "dim": 6}}]})
    assert netspec.analyze(spec).output_shape == ((8, 8, 6) if args else (4, 4, 12))


@pytest.mark.parametrize("shift", [[1, 3], [4, 1]])
def test_a_shift_not_below_the_window_names_both(shift: list[int]) -> None:
    """Windows 4 x 3: a shift of 3 columns or of 4 rows is a whole window, refused."""
    problem = problem_of({"ShiftedWindowAttention": {
        "window_size": [4, 3], "shift_size": shift, "num_heads": 2}}, [8, 8, 6])
    assert problem.message == ("shift_size must be below window_size on each axis; received "
                               f"shift_size={shift}, window_size=[4, 3]")
    assert problem.path == ("layers", 0, "ShiftedWindowAttention", "shift_size")


def test_heads_that_do_not_divide_the_channels_point_at_num_heads() -> None:
    problem = problem_of({"ShiftedWindowAttention": {"window_size": 4, "num_heads": 4}},
                         [8, 8, 6])
    assert problem.message == (
        "the channels C = 6 (last dim of [8, 8, 6]) must be a multiple of num_heads=4")
    assert problem.path == ("layers", 0, "ShiftedWindowAttention", "num_heads")
