"""How the kinds of today's CNNs show: ``--explain`` lines, the table's receptive field of a
channels-last sample, the JSON report, and the drawing of gates and products."""

from __future__ import annotations

from typing import Any

import netspec
from netspec.advice.explain import explain
from netspec.views.diagram import draw
from netspec.views.summary import summary

SE: dict[str, Any] = {"Gate": {"layers": [
    {"AdaptiveAvgPool2d": {"output_size": 1}},
    {"Conv2d": {"out_channels": 4, "kernel_size": 1}}, "ReLU",
    {"Conv2d": {"out_channels": 16, "kernel_size": 1}}, "Sigmoid"]}}

SPEC: dict[str, Any] = {"name": "modern", "input": [16, 9, 9], "layers": [
    {"Conv2d": {"out_channels": 16, "kernel_size": 3}},
    SE,
    {"Permute": {"dims": [1, 2, 0]}},
    "LayerNorm",
    {"Permute": {"dims": [2, 0, 1]}},
    {"LayerScale": {"init_value": 0.1}},
    {"StochasticDepth": {"p": 0.25, "mode": "row"}},
    {"ChannelShuffle": {"groups": 4}},
    {"Chunk": {"chunks": 3, "index": 2}},
    {"Narrow": {"dim": 1, "start": 2, "length": 4}},
    {"Parallel": {"merge": "mul", "branches": [["Identity"], ["Sigmoid"]]}},
]}


def explained() -> str:
    return explain(netspec.analyze(netspec.load(SPEC)))


def test_explain_lines_of_each_kind() -> None:
    text = explained()
    # by hand: 3x3 conv on 9x9 -> 7x7, field 3; the gate pools the 7x7 map: 3 + (7-1)*1 = 9
    for line in [
        "out = x * g(x): [16, 7, 7] * [16, 1, 1] = [16, 7, 7]",
        "RF = union of x's 3x3 and the gate's 9x9 = 9x9 (whole input)",
        "out = [in[1], in[2], in[0]] = [7, 7, 16]",
        "out = [in[2], in[0], in[1]] = [16, 7, 7]",
        "params = 16 (scale [16, 1, 1]); MACs = 0 (elementwise)",
        "each sample kept with probability 1 - 0.25 = 0.75 and scaled by 1/0.75",
        "[16, 7, 7] as [4, 4, 7, 7], groups transposed: shape unchanged",
        "pieces of ceil(16/3) = 6: [6, 6, 4]; index 2: positions 12 to 15 of dim 0",
        "positions 2 to 5 of dim 1: 7 -> 4",
    ]:
        assert line in text, line


def test_a_spatial_slice_explains_its_centre() -> None:
    """3x3 conv, no padding: field 3, jump 1, centre 1; Narrow from column 2: 1 + 2*1 = 3."""
    spec = netspec.load({"input": [1, 8, 8], "layers": [
        {"Conv2d": {"out_channels": 2, "kernel_size": 3}},
        {"Narrow": {"dim": 2, "start": 2, "length": 3}}]})
    assert "centre = 1 + 2*1 = 3; RF and jump unchanged" in explain(netspec.analyze(spec))


def test_a_channels_last_row_shows_the_field_of_its_spatial_axes() -> None:
    spec = netspec.load({"input": [4, 9, 9], "layers": [
        {"Conv2d": {"out_channels": 4, "kernel_size": 3}},
        {"Permute": {"dims": [1, 2, 0]}}]})
    report = netspec.analyze(spec)
    assert [axis["size"] for axis in report.to_dict()["layers"][1]["receptive_field"]] == [3, 3]
    row = next(line for line in str(summary(spec)).splitlines() if "Permute" in line)
    assert "3x3" in row and "3x3x" not in row


def test_the_drawing_shows_gates_and_products() -> None:
    chart = draw(netspec.load(SPEC), format="mermaid")
    times = "\N{MULTIPLICATION SIGN}"
    assert chart.count(f'(("{times}"))') == 2  # the gate's product and Parallel's merge: mul
    assert "-->|identity|" in chart  # x runs beside the gate
    assert f"Permute<br/>dims=1{times}2{times}0" in chart
