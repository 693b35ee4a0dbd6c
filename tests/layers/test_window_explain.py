"""``--explain`` for Swin's kinds, worked out by hand on one map, with the fields of the last
layer confirmed by gradients on the built model.

The map: input ``[1, 24, 16]``, a 2 x 2 patch convolution of stride 2 (field 2, jump 2, 4
channels), ``Permute`` to channels-last ``[12, 8, 4]``. Window attention with windows 4 x 3
(shift 2, 1): the map is padded to 12 x 9 (8 up to a multiple of 3); the units of a window share
the hull of its fields: H ``2 + (4-1)*2 = 8`` in tiles of 4 starting at unit 2, W
``2 + (3-1)*2 = 6`` in tiles of 3 starting at unit 1. The merge then reads units ``2i, 2i + 1``:
along H both always lie in one tile (tiles start at even units): 8; along W units 0 and 1 lie in
two tiles: ``6 + 3*2 = 12`` (an upper bound: the tile before unit 1 is partial, see the test);
jump ``2*2 = 4`` on both.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import netspec
from netspec.views.explain import explain_row

PATCH: list[Any] = [{"Conv2d": {"out_channels": 4, "kernel_size": 2, "stride": 2}},
                    {"Permute": {"dims": [1, 2, 0]}}]
WINDOWS = {"ShiftedWindowAttention": {"window_size": [4, 3], "shift_size": [2, 1],
                                      "num_heads": 2}}


def explained(layers: list[Any], shape: list[int]) -> list[list[str]]:
    report = netspec.analyze(netspec.load({"input": shape, "layers": layers}))
    return [explain_row(row) for row in report.layers]


def extents(layers: list[Any], shape: list[int]) -> tuple[int, int]:
    """The most input rows and columns any output unit depends on (weights below 1e-30 of the
    largest left out: the -100 mask of shifted windows leaves e^-100)."""
    torch.manual_seed(0)
    model = netspec.build(netspec.load({"input": shape, "layers": layers})).double().eval()
    for module in model.modules():
        if hasattr(module, "relative_position_bias_table"):
            nn.init.normal_(module.relative_position_bias_table)
    x = torch.randn(1, *shape, dtype=torch.float64, requires_grad=True)
    out = model(x)
    rows = cols = 0
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            (grad,) = torch.autograd.grad(out[0, i, j].sum(), x, retain_graph=True)
            seen = grad[0].abs().sum(0)
            seen = seen > seen.max() * 1e-30
            ys, xs = seen.any(1).nonzero(), seen.any(0).nonzero()
            rows = max(rows, int(ys.max() - ys.min() + 1))
            cols = max(cols, int(xs.max() - xs.min() + 1))
    return rows, cols


def test_window_attention_then_merge_explain_every_number() -> None:
    # C = 4, 2 heads: params 4*16 + 3*4 + 4 + 7*5*2 = 150; index (4*3)^2 = 144;
    # MACs 12*9 = 108 tokens of (4*16 + 2*12*4) = 160: 17280.
    # merge: 8*16 + 8*4 = 160 params; output [6, 4, 8]: 6*4*8*16 = 3072 MACs
    *_, attention, merge = explained([*PATCH, WINDOWS, "PatchMerging"], [1, 24, 16])
    assert attention == [
        "padded map 12x9, windows of 4x3 = 12 tokens",
        "params = 4*4^2 + biases + (2*4-1)*(2*3-1)*2 = 150; buffers = (4*3)^2 = 144",
        "MACs = 12*9*(4*4^2 + 2*12*4) = 17280",
        "RF_H = 2 -> 8 (windows of 4 units share one field)",
        "RF_W = 2 -> 6 (windows of 3 units share one field)",
    ]
    assert merge == [
        "params = 8*4^2 + 8*4 = 160",
        "MACs = 6*4*8*4^2 = 3072",
        "RF_H = 8 -> 8, jump = 4 (2 units a window; tiles of 4 share a field)",
        "RF_W = 6 -> 12, jump = 4 (2 units a window; tiles of 3 share a field)",
    ]
    # measured: 8 rows; along W the tiles met at the map's edges are partial ({0} before the
    # tile {1, 2, 3}, {7} after {4, 5, 6}): no merged pair reads more than 4 units (8 columns),
    # so 12, which counts whole tiles, is an upper bound there
    rows, cols = extents([*PATCH, WINDOWS, "PatchMerging"], [1, 24, 16])
    assert rows == 8 and cols == 8 <= 12


def test_an_axis_seen_whole_has_no_field_line() -> None:
    # windows of 12 rows cover the 12 rows: H is seen whole; W as above
    tall = {"ShiftedWindowAttention": {"window_size": [12, 3], "num_heads": 2}}
    *_, attention, merge = explained([*PATCH, tall, "PatchMerging"], [1, 24, 16])
    assert attention[-1] == "RF_W = 2 -> 6 (windows of 3 units share one field)"
    assert not any(line.startswith("RF_H") for line in attention)
    assert merge[2:] == ["RF_W = 6 -> 12, jump = 4 (2 units a window; tiles of 3 share a field)"]


def test_a_merge_of_plain_units_explains_a_two_by_two_window() -> None:
    # field 2, jump 2: 2 + (2-1)*2 = 4, jump 2*2 = 4, no tiles
    *_, merge = explained([*PATCH, "PatchMerging"], [1, 24, 16])
    assert merge[2:] == ["RF_H = 2 -> 4, jump = 4 (2 units a window)",
                         "RF_W = 2 -> 4, jump = 4 (2 units a window)"]
    assert extents([*PATCH, "PatchMerging"], [1, 24, 16]) == (4, 4)


def test_without_a_channels_last_field_only_the_counts_are_explained() -> None:
    """An input written ``[12, 8, 4]`` is read as 12 channels of an 8 x 4 map: no column per
    dim, so no field lines; the counts are those above."""
    attention, merge = explained([WINDOWS, "PatchMerging"], [12, 8, 4])
    assert attention == [
        "padded map 12x9, windows of 4x3 = 12 tokens",
        "params = 4*4^2 + biases + (2*4-1)*(2*3-1)*2 = 150; buffers = (4*3)^2 = 144",
        "MACs = 12*9*(4*4^2 + 2*12*4) = 17280",
    ]
    assert merge == ["params = 8*4^2 + 8*4 = 160", "MACs = 6*4*8*4^2 = 3072"]


@pytest.mark.parametrize(("kind", "args"), [
    ("ShiftedWindowAttention", {"window_size": 4, "num_heads": 2}), ("PatchMerging", {})])
def test_a_map_that_is_not_channels_last_says_the_layout(kind: str, args: dict[str, Any]
                                                         ) -> None:
    with pytest.raises(netspec.NetspecError) as error:
        netspec.analyze(netspec.load({"input": [8, 8], "layers": [{kind: args}]}))
    (problem,) = error.value.problems
    assert problem.message == (f"{kind} expects one sample shaped [H, W, C] (channels last) "
                               "(3 dims); received [8, 8]")
    assert problem.path == ("layers", 0, kind)


@pytest.mark.parametrize(("qkv_bias", "proj_bias", "biases"), [
    (True, True, 3 * 4 + 4), (False, True, 4), (True, False, 3 * 4), (False, False, 0)])
def test_window_attention_counts_each_bias_it_has(qkv_bias: bool, proj_bias: bool,
                                                  biases: int) -> None:
    """C = 4: qkv and proj weights 4*16 = 64, the table 7*5*2 = 70, and the biases it keeps:
    qkv 3*4, proj 4."""
    spec = netspec.load({"input": [12, 8, 4], "layers": [{"ShiftedWindowAttention": {
        **WINDOWS["ShiftedWindowAttention"], "qkv_bias": qkv_bias, "proj_bias": proj_bias}}]})
    model = netspec.build(spec)
    assert netspec.analyze(spec).params == 64 + 70 + biases
    assert sum(p.numel() for p in model.parameters()) == 64 + 70 + biases
    assert (model[0].qkv.bias is not None, model[0].proj.bias is not None) == (qkv_bias,
                                                                               proj_bias)
