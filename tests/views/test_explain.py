"""``netspec summary --explain``: each kind's arithmetic, numbers substituted, on hand-worked
layers.

Every expected line below is the formula as written in ``docs`` and the issue, with the numbers
worked out by hand in the comment above it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netspec
from netspec.views.explain import explain, explain_row
from tests import conv_stack

LENET = Path(__file__).parents[2] / "specs" / "lenet5.yaml"


def lines(layers: str, shape: str = "[1, 28, 28]") -> list[list[str]]:
    """The formulas of each top-level row of a spec made of ``layers``."""
    text = f"input: {shape}\nlayers:\n" + "".join(f"  - {line}\n" for line in layers.splitlines())
    report = netspec.analyze(netspec.load(text))
    return [explain_row(row) for row in report.top_level()]


def test_lenet_first_convolution_reads_as_the_issue_writes_it() -> None:
    report = netspec.analyze(netspec.load(LENET))
    assert explain_row(report.layers[0]) == [
        "H_out = floor((28 + 2*2 - 1*(5-1) - 1)/1) + 1 = 28",
        "W_out = floor((28 + 2*2 - 1*(5-1) - 1)/1) + 1 = 28",
        "params = 6*(1*5*5) + 6 = 156",
        "MACs = (6*28*28)*(1*5*5) = 117,600 (bias not counted)",  # output elements * window
        "RF = 1 + (5-1)*1 = 5, jump = 1",
    ]


def test_lenet_pool_flatten_and_linear() -> None:
    rows = netspec.analyze(netspec.load(LENET)).layers
    # pool 2/2 on 28: floor(26/2) + 1 = 14; RF 5 + 1*1 = 6, jump 1*2
    assert explain_row(rows[2]) == [
        "H_out = floor((28 + 2*0 - 1*(2-1) - 1)/2) + 1 = 14",
        "W_out = floor((28 + 2*0 - 1*(2-1) - 1)/2) + 1 = 14",
        "RF = 5 + (2-1)*1 = 6, jump = 1*2 = 2",
    ]
    # Flatten [16, 5, 5]: 400 values; each unit sees the whole axis: 16 + 4*4 = 32
    assert explain_row(rows[6]) == ["out = 16*5*5 = 400", "RF = 16 + (5-1)*4 = 32, whole axis"]
    assert explain_row(rows[7]) == ["params = 120*400 + 120 = 48120",
                                    "MACs = 400*120 = 48,000 (bias not counted)"]
    assert explain_row(rows[1]) == []  # Sigmoid: nothing to compute


def test_dilated_grouped_per_axis_kernel_and_transposed_convolution() -> None:
    report = netspec.analyze(netspec.load(conv_stack.PATH))
    # conv_stack.py: 15 - 2*3 - 1 + 1 = 9 and 15 - 2*4 - 1 + 1 = 7; 16*4*20 + 16 = 1,296
    assert explain_row(report.layers[2]) == [
        "H_out = floor((15 + 2*0 - 2*(4-1) - 1)/1) + 1 = 9",
        "W_out = floor((15 + 2*0 - 2*(5-1) - 1)/1) + 1 = 7",
        "params = 16*(16/4*4*5) + 16 = 1296",
        "MACs = (16*9*7)*(16/4*4*5) = 80,640 (bias not counted)",
        "RF_H = 5 + 2*(4-1)*2 = 17, jump = 2",
        "RF_W = 5 + 2*(5-1)*2 = 21, jump = 2",
    ]
    # (9-1)*2 + 1 + 1 = 18; the jump halves: 17 + 1*2/2 = 18
    assert explain_row(report.layers[3]) == [
        "H_out = (9-1)*2 - 2*0 + 1*(2-1) + 0 + 1 = 18",
        "W_out = (7-1)*2 - 2*0 + 1*(2-1) + 0 + 1 = 14",
        "params = 4*(16*2*2) + 4 = 260",
        "MACs = (16*9*7)*(4*2*2) = 16,128 (bias not counted)",  # each input into 4 channels
        "RF_H = 17 + (2-1)*2/2 = 18, jump = 2/2 = 1",
        "RF_W = 21 + (2-1)*2/2 = 22, jump = 2/2 = 1",
    ]


def test_same_padding_of_an_even_kernel_is_split_unevenly() -> None:
    (conv,) = lines("Conv2d: {out_channels: 2, kernel_size: 4, padding: same, bias: false}")
    # total d(k-1) = 3: 1 before, 2 after; 28 + 3 - 3 = 28
    assert conv[0] == (
        "H_out = floor((28 + 1 + 2 - 1*(4-1) - 1)/1) + 1 = 28 (padding same: 1 before, 2 after)"
    )
    assert conv[2] == "params = 2*(1*4*4) = 32"


def test_ceil_mode_drops_a_last_window_that_starts_in_the_padding() -> None:
    (pool,) = lines("MaxPool2d: {kernel_size: 2, stride: 2, padding: 1, ceil_mode: true}",
                    "[1, 5, 5]")
    # ceil((5 + 2 - 1 - 1)/2) + 1 = 4, but window 4 would start at 6 >= 5 + 1: 3 windows
    assert pool[0] == ("H_out = ceil((5 + 2*1 - 1*(2-1) - 1)/2) + 1 - 1 = 3 (a last window "
                       "starting in the right padding is dropped)")


def test_norms_count_weights_biases_and_buffers() -> None:
    batch, group, layer = lines("BatchNorm2d\nGroupNorm: {num_groups: 2}\n"
                                "LayerNorm: {normalized_shape: [7, 7]}", "[6, 7, 7]")
    # norms multiply no matrices: no MACs line
    assert batch == ["params = 2*6 = 12", "buffers = 2*6 + 1 = 13"]
    assert group == ["params = 2*6 = 12"]
    assert layer == ["params = 2*(7*7) = 98"]


def test_adaptive_pools_explain_their_windows() -> None:
    even, whole = lines("AdaptiveAvgPool2d: {output_size: 7}\nAdaptiveMaxPool2d: {output_size: 1}",
                        "[4, 14, 14]")
    # 14 -> 7: windows of 2 every 2, an ordinary pool
    assert even == ["H_out = output_size = 7", "W_out = output_size = 7",
                    "RF = 1 + (2-1)*1 = 2, jump = 1*2 = 2"]
    # then 7 -> 1: the whole axis, 2 + (7-1)*2 = 14
    assert whole == ["H_out = output_size = 1", "W_out = output_size = 1",
                     "RF = 2 + (7-1)*2 = 14, whole axis"]


def test_upsample_and_one_d_convolution() -> None:
    up, conv = lines("Upsample: {scale_factor: 2}\nConv1d: {out_channels: 1, kernel_size: 3}",
                     "[2, 10]")
    assert up == ["L_out = floor(10*2.0) = 20"]
    assert conv[0] == "L_out = floor((20 + 2*0 - 1*(3-1) - 1)/1) + 1 = 18"
    assert conv[-1] == "RF = 1 + (3-1)*0.5 = 2, jump = 0.5"  # the upsampling halved the jump


def test_block_under_the_table_has_a_header_per_row() -> None:
    text = explain(netspec.analyze(netspec.load(LENET)))
    assert "\n0  Conv2d (c1)  [1, 28, 28] -> [6, 28, 28]\n" \
           "      H_out = floor((28 + 2*2 - 1*(5-1) - 1)/1) + 1 = 28\n" in text
    assert "\n1  Sigmoid  [6, 28, 28]: shape and receptive field unchanged\n" in text


def test_composite_rows_say_they_sum_their_layers() -> None:
    text = ("input: [2, 8, 8]\nlayers:\n  - Residual:\n      body:\n"
            "        - Conv2d: {out_channels: 2, kernel_size: 3, padding: 1}\n")
    block = explain(netspec.analyze(netspec.load(text)))
    assert "0  Residual  [2, 8, 8] -> [2, 8, 8]: the sums of the layers inside it" in block
    assert "  body[0]  Conv2d  [2, 8, 8] -> [2, 8, 8]" in block


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_summary_explain_in_every_format(fmt: str) -> None:
    result = netspec.summary(LENET, confirm=False, explain=True)
    if fmt == "json":
        data = json.loads(result.to_json())
        assert data["layers"][0]["explain"][2] == "params = 6*(1*5*5) + 6 = 156"
        assert data["layers"][1]["explain"] == []
        return
    text = result.to_table() if fmt == "table" else result.to_markdown()
    assert "      params = 6*(1*5*5) + 6 = 156\n" in text
    assert "      RF = 1 + (5-1)*1 = 5, jump = 1\n" in text
    assert "explain" not in json.loads(netspec.summary(LENET, confirm=False).to_json())["layers"][0]
