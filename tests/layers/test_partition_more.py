"""MaxViT's kinds (issue13's ``netspec.layers.partition``), checked once more:
RelativePositionalMultiHeadAttention against attention written by hand,
Partition against torchvision's partition ops rewritten here (WindowPartition, SwapAxes,
WindowDepartition), hand-counted parameters, buffers and MACs, FlopCounterMode / 2, and the
receptive field of block and grid attention against gradients."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from tests.gradient_support import largest_field_rows
from tests.torch_check import assert_round_trip_keeps_outputs


def hand_attention(x: torch.Tensor, module: nn.Module, head_dim: int) -> torch.Tensor:
    """softmax(Q (K / sqrt(D))^T + B) V per head; B[h, i, j] = table[offset(i, j), h]."""
    s, d = x.shape[-2:]
    side, heads = math.isqrt(s), d // head_dim
    q, k, v = module.to_qkv(x).split(d, dim=-1)
    bias = torch.empty(heads, s, s)
    for i in range(s):
        for j in range(s):
            dy, dx = i // side - j // side, i % side - j % side
            bias[:, i, j] = module.relative_position_bias_table[
                (dy + side - 1) * (2 * side - 1) + dx + side - 1]
    outs = []
    for h in range(heads):
        cols = slice(h * head_dim, (h + 1) * head_dim)
        scores = q[..., cols] @ (k[..., cols] / math.sqrt(d)).transpose(-1, -2) + bias[h]
        outs.append(scores.softmax(-1) @ v[..., cols])
    return module.merge(torch.cat(outs, dim=-1))


def flop_macs(module: nn.Module, shape: list[int]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.zeros(1, *shape))
    return int(counter.get_total_flops()) // 2


def built(shape: list[int], entry: dict[str, Any]) -> tuple[netspec.Report, nn.Module]:
    spec = netspec.load({"input": shape, "layers": [entry]})
    return netspec.analyze(spec), netspec.build(spec)[0].eval()


@pytest.mark.parametrize(("shape", "head_dim"), [([4, 49, 16], 8), ([2, 9, 12], 4)])
def test_relative_attention_equals_the_hand_written_one(shape: list[int], head_dim: int) -> None:
    report, module = built(shape, {"RelativePositionalMultiHeadAttention": {"head_dim": head_dim}})
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        for tensor in module.parameters():
            tensor.normal_()
        torch.testing.assert_close(module(x), hand_attention(x, module, head_dim),
                                   rtol=1e-5, atol=1e-5)
    g, s, d = shape
    side, heads = math.isqrt(s), d // head_dim
    row = report.layers[0]
    assert row.params == 4 * d * d + 4 * d + (2 * side - 1) ** 2 * heads
    assert row.params == sum(p.numel() for p in module.parameters())
    assert row.buffers == s * s == module.relative_position_index.numel()
    assert row.macs == 4 * g * s * d * d + 2 * g * s * s * d == flop_macs(module, shape)
    assert list(module.state_dict()) == ["relative_position_bias_table", "relative_position_index",
                                         "to_qkv.weight", "to_qkv.bias", "merge.weight",
                                         "merge.bias"]


def window_partition(x: torch.Tensor, p: int) -> torch.Tensor:
    """torchvision's WindowPartition: [B, C, H, W] -> [B, H/p * W/p, p*p, C]."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p, c)


def window_departition(x: torch.Tensor, p: int, hp: int, wp: int) -> torch.Tensor:
    """torchvision's WindowDepartition."""
    b, _, _, c = x.shape
    x = x.reshape(b, hp, wp, p, p, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, hp * p, wp * p)


@pytest.mark.parametrize(("shape", "kind"), [([8, 14, 21], "window"), ([8, 14, 14], "grid"),
                                             ([8, 21, 21], "grid")])
def test_partition_equals_torchvisions_partition_ops(shape: list[int], kind: str) -> None:
    inner = {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}
    report, module = built(shape, {"Partition": {"partition_type": kind, "partition_size": 7,
                                                 "layers": ["LayerNorm", inner]}})
    torch.manual_seed(2)
    x = torch.randn(2, *shape)
    c, h, w = shape
    # torchvision's PartitionAttentionLayer: window p = 7; grid p = H / 7 and SwapAxes(-2, -3)
    p = 7 if kind == "window" else h // 7
    with torch.no_grad():
        for tensor in module.parameters():
            tensor.normal_()
        groups = window_partition(x, p)
        if kind == "grid":
            groups = groups.swapaxes(-2, -3)
        out = module.layers(groups)
        if kind == "grid":
            out = out.swapaxes(-2, -3)
        expected = window_departition(out, p, h // p, w // p)
        torch.testing.assert_close(module(x), expected)
    g = h * w // 49
    assert report.layers[2].in_shape == (g, 49, c)  # the layers see [G, 49, C]
    attention = report.layers[2]
    assert attention.macs == 4 * g * 49 * c * c + 2 * g * 49 * 49 * c
    assert attention.macs == flop_macs(module, shape)  # LayerNorm: 0 for FlopCounterMode
    assert report.layers[0].macs == report.layers[1].macs + attention.macs


def test_partition_refuses_a_map_not_divisible_by_the_partition() -> None:
    with pytest.raises(netspec.NetspecError, match="multiples of partition_size=7"):
        netspec.analyze(netspec.load({"input": [8, 14, 15], "layers": [{"Partition": {
            "partition_type": "window", "partition_size": 7, "layers": ["LayerNorm"]}}]}))


def test_maxvit_kinds_round_trip_through_from_module() -> None:
    spec = netspec.load({"input": [8, 14, 14], "layers": [{"Partition": {
        "partition_type": "grid", "partition_size": 7, "layers": [
            "LayerNorm", {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}]}}]})
    assert_round_trip_keeps_outputs(spec)


@pytest.mark.parametrize(("kind", "size"), [
    ("window", 2 + (7 - 1) * 2),   # runs of 7 units of jump 2
    ("grid", 2 + (14 - 2) * 2),    # 7 units 2 apart: a hull of 13 units
])
def test_partition_attention_field_against_gradients(kind: str, size: int) -> None:
    spec = netspec.load({"input": [2, 28, 28], "layers": [
        {"Conv2d": {"out_channels": 4, "kernel_size": 2, "stride": 2}},
        {"Partition": {"partition_type": kind, "partition_size": 7, "layers": [
            {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}]}}]})
    report = netspec.analyze(spec)
    assert int(report.rf[0].size) == size == largest_field_rows(spec)


def grid_over_tiles(n: int, window: int, phase: int, grid: int) -> tuple[int, int]:
    """By enumeration, on an axis of ``n`` one-pixel units tiled in runs of ``window`` from
    ``phase + m window`` (a shifted window attention): the largest hull of the tiles that the
    units of one grid group (``first, first + n/grid, ...``) lie in, the tiles reaching past
    the map as windows do past padding, and that hull clipped to the map (what gradients
    see)."""
    step = n // grid
    widest = clipped = 0
    for first in range(step):
        tile_starts = [phase + (unit - phase) // window * window
                       for unit in range(first, n, step)]
        low, high = min(tile_starts), max(tile_starts) + window - 1
        widest = max(widest, high - low + 1)
        clipped = max(clipped, min(high, n - 1) - max(low, 0) + 1)
    return widest, clipped


@pytest.mark.parametrize(("window", "shift", "grid"), [(4, 2, 4), (3, 2, 3)])
def test_a_grid_after_shifted_windows_spans_the_tiles_its_units_lie_in(
    window: int, shift: int, grid: int
) -> None:
    """Swin's shifted windows (tiles from ``shift``), then MaxViT's grid: e.g. windows of 4
    from 2 on 12 units, grid of 4 (units 3 apart): the group 1, 4, 7, 10 lies in the tiles
    [-2, 1], [2, 5], [6, 9], [10, 13]: 16 pixels, 12 of them on the map."""
    spec = netspec.load({"input": [4, 12, 12], "layers": [
        {"Permute": {"dims": [1, 2, 0]}},
        {"ShiftedWindowAttention": {"window_size": window, "shift_size": shift,
                                    "num_heads": 1}},
        {"Permute": {"dims": [2, 0, 1]}},
        {"Partition": {"partition_type": "grid", "partition_size": grid, "layers": [
            {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}]}}]})
    widest, on_the_map = grid_over_tiles(12, window, shift, grid)
    assert int(netspec.analyze(spec).rf[0].size) == widest
    assert largest_field_rows(spec) == on_the_map


def test_the_drawing_nests_the_partitions_layers() -> None:
    """A grid partition of a 14x14 map in 7x7: 4 groups of 49 tokens; its hull: 13 units."""
    from netspec.views.diagram import draw

    chart = draw(netspec.load({"input": [8, 14, 14], "layers": [{"Partition": {
        "partition_type": "grid", "partition_size": 7, "layers": [
            "LayerNorm", {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}]}}]}),
        format="mermaid")
    times = "\N{MULTIPLICATION SIGN}"
    assert f'subgraph g2["Partition → 8{times}14{times}14 · RF 13{times}13"]' in chart
    assert f"RelativePositionalMultiHeadAttention<br/>head_dim=4<br/>4{times}49{times}8" in chart


@settings(max_examples=20, deadline=None)
@given(p=st.integers(1, 4), rows=st.integers(1, 3), cols=st.integers(1, 3),
       heads=st.integers(1, 3), head_dim=st.integers(1, 4),
       kind=st.sampled_from(["window", "grid"]))
def test_random_partitions_agree_with_the_module(
    p: int, rows: int, cols: int, heads: int, head_dim: int, kind: str
) -> None:
    c = heads * head_dim
    spec = netspec.load({"input": [c, p * rows, p * cols], "layers": [{"Partition": {
        "partition_type": kind, "partition_size": p, "layers": [
            "LayerNorm", {"RelativePositionalMultiHeadAttention": {"head_dim": head_dim}}]}}]})
    report = netspec.analyze(spec)
    model = netspec.build(spec).eval()
    with torch.no_grad():
        out = model(torch.randn(2, c, p * rows, p * cols))
    assert tuple(out.shape[1:]) == report.output_shape
    assert report.params == sum(t.numel() for t in model.parameters())
    assert report.buffers == sum(t.numel() for t in model.buffers())
    assert report.layers[2].macs == flop_macs(model[0], [c, p * rows, p * cols])


def test_init_weights_after_a_meta_build_restores_the_indices() -> None:
    """``to_empty`` leaves garbage in every buffer; ``reset_parameters`` recomputes the index."""
    spec = netspec.load({"input": [8, 14, 14], "layers": [
        {"Partition": {"partition_type": "grid", "partition_size": 7, "layers": [
            "LayerNorm", {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}]}},
        {"Permute": {"dims": [1, 2, 0]}},
        {"ShiftedWindowAttention": {"window_size": 7, "shift_size": 3, "num_heads": 2}}]})
    model = netspec.init_weights(netspec.build(spec, device="meta").to_empty(device="cpu"))
    fresh = netspec.build(spec).state_dict()
    indices = [key for key in fresh if key.endswith("relative_position_index")]
    assert len(indices) == 2
    for key in indices:
        assert torch.equal(model.state_dict()[key], fresh[key])
