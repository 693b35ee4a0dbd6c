"""Valid input sizes: smallest valid and exactly tiling sizes per axis, on hand-worked networks,
and the repeating-pattern search checked against analysing every size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netspec
from netspec.analysis.inputs import SizeSet, input_sizes, status
from netspec.cli.commands import main

SPECS = Path(__file__).parents[2] / "specs"


def load(layers: str, shape: str) -> netspec.Spec:
    return netspec.load(f"input: {shape}\nlayers:\n" + "".join(
        f"  - {line}\n" for line in layers.strip().splitlines()))


def test_lenet() -> None:
    # conv 5 pad 2 keeps n; pool 2 -> floor(n/2); conv 5 -> floor(n/2) - 4; pool 2 needs that
    # >= 2: n >= 12. No row dropped: n even, and floor(n/2) - 4 even: n = 12, 16, 20, ...
    height, width = input_sizes(netspec.load(SPECS / "lenet5.yaml"))
    assert (height.valid.smallest, height.exact.smallest, height.exact.period) == (12, 12, 4)
    assert height.exact.residues == (0,)
    assert str(height) == ("H (28): valid from 12; exact (no rows dropped): 12, 16, 20, 24, ... "
                           "(every 4); 28 is exact")
    assert str(width).startswith("W (28): valid from 12; exact (no columns dropped): 12, 16")


def test_odd_sizes_tile_a_three_by_two_pool() -> None:
    # out = floor((n - 3)/2) + 1 >= 1 from n = 3; windows reach 2*floor((n-3)/2) + 3: n when odd
    (height, _) = input_sizes(load("MaxPool2d: {kernel_size: 3, stride: 2}", "[1, 8, 8]"))
    assert height.valid.describe() == "every size from 3"
    assert height.exact.describe() == "3, 5, 7, 9, ... (every 2)"
    assert height.exact.nearest(8) == (7, 9)
    assert str(height).endswith("; 8 drops rows, nearest exact: 7 and 9")
    assert height.to_dict()["exact"] == {"smallest": 3, "period": 2, "residues": [1],
                                         "first": [3, 5, 7, 9, 11, 13, 15, 17],
                                         "searched_up_to": 4096}


def test_axes_are_searched_separately() -> None:
    # a 3x5 kernel: H valid from 3, W from 5; stride 1 drops nothing
    height, width = input_sizes(load("Conv2d: {out_channels: 1, kernel_size: [3, 5]}",
                                     "[1, 9, 9]"))
    assert (height.valid.smallest, width.valid.smallest) == (3, 5)
    assert width.exact.describe() == "every size from 5"


def test_branches_that_only_agree_on_even_sizes() -> None:
    # pool 2/2 gives floor(n/2), with ceil_mode ceil(n/2) (same windows, same centres):
    # concatenated, they match only for even n; and even n drops nothing in either
    spec = load("Parallel: {branches: [[{AvgPool2d: {kernel_size: 2}}], "
                "[{MaxPool2d: {kernel_size: 2, ceil_mode: true}}]]}", "[1, 8, 8]")
    (height, _) = input_sizes(spec)
    assert height.valid.describe() == "2, 4, 6, 8, ... (every 2)"
    assert height.exact.describe() == "2, 4, 6, 8, ... (every 2)"
    assert 7 not in height.valid


def test_a_fixed_size_is_listed_not_repeated() -> None:
    # an asserted in_features fits only 4*8 = 32 values: H = 4 alone
    spec = load("Flatten\nLinear: {in_features: 32, out_features: 2}", "[1, 4, 8]")
    (height, _) = input_sizes(spec, bound=64)
    assert height.valid == SizeSet(64, 4, None, (), (4,))
    assert height.valid.describe() == "4 (only these up to 64)"


def test_one_d_and_no_spatial_axes() -> None:
    (length,) = input_sizes(load("Conv1d: {out_channels: 1, kernel_size: 4, stride: 4}", "[1, 16]"))
    assert length.exact.describe() == "4, 8, 12, 16, ... (every 4)"
    assert str(length).startswith("L (16): valid from 4; exact (no positions dropped)")
    assert input_sizes(load("Linear: {out_features: 2}", "[8]")) == []


def test_the_search_is_bounded_by_twice_the_spec_size() -> None:
    (length,) = input_sizes(load("Conv1d: {out_channels: 1, kernel_size: 3}", "[1, 3000]"),
                            bound=100)
    assert length.valid.bound == 6000


@pytest.mark.parametrize("name", ["lenet5", "nin", "squeezenet1_0"])
def test_repeating_pattern_matches_every_size(name: str) -> None:
    spec = netspec.load(SPECS / f"{name}.yaml")
    height = input_sizes(spec, bound=300)[0]
    for size in range(1, 301):
        valid, exact = status(spec, 1, size)
        assert (size in height.valid, size in height.exact) == (valid, exact), size


def test_check_inputs_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    lenet = str(SPECS / "lenet5.yaml")
    assert main(["check", lenet, "--inputs"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        f"{lenet}: input sizes per spatial axis (the others as in the spec):",
        "  H (28): valid from 12; exact (no rows dropped): 12, 16, 20, 24, ... (every 4); 28 is "
        "exact",
        "  W (28): valid from 12; exact (no columns dropped): 12, 16, 20, 24, ... (every 4); 28 "
        "is exact",
    ]
    assert main(["check", lenet, "--inputs", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [warning["code"] for warning in data["problems"]] == []  # NS109 is a note
    assert data["input_sizes"][lenet][0]["smallest_valid"] == 12
    assert data["input_sizes"][lenet][0]["nearest_exact"] == [28, 28]


def test_summary_inputs() -> None:
    result = netspec.summary(SPECS / "lenet5.yaml", confirm=False, inputs=True)
    assert "Input sizes per spatial axis (the others as in the spec):\n  H (28): valid from 12" in (
        result.to_table())
    assert json.loads(result.to_json())["input_sizes"][1]["name"] == "W"
