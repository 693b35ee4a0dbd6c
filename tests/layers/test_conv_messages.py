"""What a convolution's errors tell the user: the argument they point at (the spec path ends in
it), what was received, what is allowed. Each spec below is also refused by torch itself, so the
test pins the message of a real error, not an invented one.
"""

from __future__ import annotations

from typing import Any

import pytest

import netspec
from netspec.core.errors import NetspecError, Problem
from tests.torch_check import torch_accepts


def problem(kind: str, args: dict[str, Any], shape: list[int]) -> Problem:
    """The one problem netspec reports for a one-layer spec that torch refuses too."""
    assert not torch_accepts(kind, args, tuple(shape))
    with pytest.raises(NetspecError) as caught:
        netspec.analyze(netspec.load({"input": shape, "layers": [{kind: args}]}))
    (found,) = caught.value.problems
    return found


def test_groups_that_do_not_divide_the_input_channels_point_at_groups() -> None:
    found = problem("Conv2d", {"out_channels": 4, "kernel_size": 3, "groups": 2}, [3, 8, 8])
    assert found.path == ("layers", 0, "Conv2d", "groups")
    assert found.message == (
        "groups must divide in_channels; received in_channels=3 (from the input shape "
        "[3, 8, 8]), groups=2"
    )


def test_a_written_in_channels_that_disagrees_names_the_input_shape() -> None:
    args = {"in_channels": 4, "out_channels": 4, "kernel_size": 3}
    found = problem("Conv2d", args, [3, 8, 8])
    assert found.path == ("layers", 0, "Conv2d", "in_channels")
    assert found.message == (
        "in_channels follows from the input shape [3, 8, 8] and must be 3; received "
        "in_channels=4 (leave it out to have it inferred)"
    )


@pytest.mark.parametrize(("kind", "layout", "shape"), [
    ("Conv1d", "[C, L]", [3, 8, 8]),
    ("Conv2d", "[C, H, W]", [3, 8]),
    ("Conv3d", "[C, D, H, W]", [3, 8, 8]),
    ("ConvTranspose2d", "[C, H, W]", [3, 8, 8, 8]),
])
def test_a_sample_of_the_wrong_rank_is_shown_the_layout_it_needs(
    kind: str, layout: str, shape: list[int]
) -> None:
    found = problem(kind, {"out_channels": 4, "kernel_size": 3}, shape)
    dims = layout.count(",") + 1
    assert found.message == (
        f"{kind} expects one sample shaped {layout} ({dims} dims); received {shape}"
    )


def test_an_input_too_small_for_the_kernel_shows_the_padding_and_points_at_kernel_size() -> None:
    """2 + 2*1 - (5-1) - 1 = -1: floor(-1/1) + 1 = 0 rows out."""
    found = problem("Conv2d", {"out_channels": 4, "kernel_size": 5, "padding": 1}, [1, 2, 2])
    assert found.path == ("layers", 0, "Conv2d", "kernel_size")
    assert found.message == (
        "Conv2d output would be [4, 0, 0]: the input [1, 2, 2] is too small for "
        "kernel_size=5, dilation=1, padding=1"
    )


def test_a_transposed_convolution_cropped_to_nothing_shows_its_padding() -> None:
    """(2-1)*1 - 2*2 + 1*(2-1) + 0 + 1 = -1 rows out."""
    found = problem("ConvTranspose2d", {"out_channels": 4, "kernel_size": 2, "padding": 2},
                    [1, 2, 2])
    assert found.path == ("layers", 0, "ConvTranspose2d", "kernel_size")
    assert found.message == (
        "ConvTranspose2d output would be [4, -1, -1]: the input [1, 2, 2] is too small for "
        "kernel_size=2, dilation=1, padding=2"
    )


def test_reflect_padding_must_be_less_than_the_input_size() -> None:
    """torch's reflection needs padding < n: 3 on a side of 3 is refused."""
    args = {"out_channels": 4, "kernel_size": 3, "padding": 3, "padding_mode": "reflect"}
    found = problem("Conv2d", args, [1, 3, 3])
    assert found.path == ("layers", 0, "Conv2d", "padding")
    assert found.message == (
        "padding_mode='reflect' needs padding less than the input size; received padding=3 "
        "for a spatial size of 3 (input [1, 3, 3])"
    )


def test_circular_padding_may_be_at_most_the_input_size() -> None:
    """torch's circular padding needs padding <= n: 4 on a side of 3 is refused."""
    args = {"out_channels": 4, "kernel_size": 3, "padding": 4, "padding_mode": "circular"}
    found = problem("Conv2d", args, [1, 3, 3])
    assert found.path == ("layers", 0, "Conv2d", "padding")
    assert found.message == (
        "padding_mode='circular' needs padding at most the input size; received padding=4 "
        "for a spatial size of 3 (input [1, 3, 3])"
    )
