"""Swin's kinds against references written here: window attention by explicit loops over the
windows (bias looked up by hand from the offsets, the shifted windows' mask from the regions
of the original map), patch merging by explicit 2 x 2 gathers; counts by hand and by
FlopCounterMode / 2; the receptive field by gradients; swin_t against torchvision's figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec

SPECS = Path(__file__).resolve().parents[2] / "specs"


def window_attention_by_loops(module: nn.Module, x: torch.Tensor, window: int,
                              shift: int, heads: int) -> torch.Tensor:
    """One sample ``[H, W, C]``: pad, and for every (shifted) window of the ORIGINAL map (the
    windows are runs ``[shift + m w, shift + (m + 1) w)`` plus the partial ones at the ends,
    which torchvision's roll places together in one window, keeping -100 between them)."""
    h, w, c = x.shape
    hp, wp = -(-h // window) * window, -(-w // window) * window
    sh = shift if window < hp else 0
    sw = shift if window < wp else 0
    padded = F.pad(x, (0, 0, 0, wp - w, 0, hp - h))
    out = torch.zeros_like(padded)
    d = c // heads
    table = module.relative_position_bias_table
    wq, wk, wv = module.qkv.weight.split(c)
    bq, bk, bv = module.qkv.bias.split(c)
    for top in range(0, hp, window):
        for left in range(0, wp, window):
            # the rolled window at (top, left) holds original positions (r + sh, q + sw) mod n
            cells = [((top + i + sh) % hp, (left + j + sw) % wp, i, j)
                     for i in range(window) for j in range(window)]
            tokens = torch.stack([padded[r, q] for r, q, _, _ in cells])
            q_, k_, v_ = tokens @ wq.T + bq, tokens @ wk.T + bk, tokens @ wv.T + bv

            def region(pos: int, n: int, s: int) -> int:
                if not s:
                    return 0
                return 0 if pos < s else 1 + (pos - s) // window if pos < n - window + s else -1

            result = torch.zeros(len(cells), c, dtype=x.dtype)
            for head in range(heads):
                part = slice(head * d, (head + 1) * d)
                scores = (q_[:, part] * d ** -0.5) @ k_[:, part].T
                for a, (ra, qa, ia, ja) in enumerate(cells):
                    for b, (rb, qb, ib, jb) in enumerate(cells):
                        offset = (ia - ib + window - 1) * (2 * window - 1) + (ja - jb + window - 1)
                        scores[a, b] += table[offset, head]
                        same = (region(ra, hp, sh) == region(rb, hp, sh)
                                and region(qa, wp, sw) == region(qb, wp, sw))
                        if not same:
                            scores[a, b] -= 100.0
                result[:, part] = scores.softmax(-1) @ v_[:, part]
            projected = result @ module.proj.weight.T + module.proj.bias
            for index, (r, q, _, _) in enumerate(cells):
                out[r, q] = projected[index]
    return out[:h, :w]


def one(entry: object, shape: list[int]) -> netspec.Spec:
    return netspec.load({"input": shape, "layers": [entry]})


@pytest.mark.parametrize(("size", "window", "shift"), [
    ((8, 8), 4, 0), ((8, 8), 4, 2), ((7, 10), 4, 1), ((5, 5), 3, 1), ((4, 4), 4, 2)])
def test_window_attention_equals_the_loops(size: tuple[int, int], window: int,
                                           shift: int) -> None:
    torch.manual_seed(0)
    spec = one({"ShiftedWindowAttention": {"window_size": window, "shift_size": shift,
                                           "num_heads": 2}}, [*size, 6])
    model = netspec.build(spec).double().eval()
    nn.init.normal_(model[0].relative_position_bias_table)
    x = torch.randn(1, *size, 6, dtype=torch.float64)
    with torch.no_grad():
        expected = window_attention_by_loops(model[0], x[0], window, shift, 2)
        torch.testing.assert_close(model(x)[0], expected)


def test_window_attention_counts() -> None:
    spec = one({"ShiftedWindowAttention": {"window_size": 4, "shift_size": 2,
                                           "num_heads": 3}}, [10, 9, 12])
    report = netspec.analyze(spec)
    c, m, hp, wp = 12, 16, 12, 12  # padded to multiples of 4
    assert report.params == 4 * c * c + 4 * c + 7 * 7 * 3
    assert report.buffers == m * m
    assert report.macs == hp * wp * (4 * c * c + 2 * m * c)
    model = netspec.build(spec).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(1, 10, 9, 12))
    assert counter.get_total_flops() // 2 == report.macs


def test_patch_merging_equals_explicit_gathers() -> None:
    torch.manual_seed(0)
    spec = one("PatchMerging", [5, 4, 3])
    report = netspec.analyze(spec)
    assert report.output_shape == (3, 2, 6)
    assert report.params == 8 * 9 + 8 * 3 and report.macs == 3 * 2 * 8 * 9
    model = netspec.build(spec).eval()
    assert [k for k in model.state_dict()] == ["0.reduction.weight", "0.norm.weight",
                                               "0.norm.bias"]
    x = torch.randn(1, 5, 4, 3)
    padded = F.pad(x, (0, 0, 0, 0, 0, 1))
    cells = torch.stack([
        torch.cat([padded[0, 2 * i, 2 * j], padded[0, 2 * i + 1, 2 * j],
                   padded[0, 2 * i, 2 * j + 1], padded[0, 2 * i + 1, 2 * j + 1]])
        for i in range(3) for j in range(2)]).view(3, 2, 12)
    merging = model[0]
    expected = F.layer_norm(cells, (12,), merging.norm.weight, merging.norm.bias) @ (
        merging.reduction.weight.T)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], expected)


def support_extents(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int]:
    """The largest number of input rows and columns any output position depends on (entries
    below 1e-30 of the largest left out: torchvision's -100 mask leaves e^-100 weights)."""
    x = torch.randn(1, *shape, dtype=torch.float64, requires_grad=True)
    out = model(x)
    rows = cols = 0
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            (grad,) = torch.autograd.grad(out[0, :, i, j].sum(), x, retain_graph=True)
            magnitude = grad[0].abs().sum(0)  # [H, W]
            seen = magnitude > magnitude.max() * 1e-30
            ys, xs = seen.any(1).nonzero(), seen.any(0).nonzero()
            rows = max(rows, int(ys.max() - ys.min() + 1))
            cols = max(cols, int(xs.max() - xs.min() + 1))
    return rows, cols


@pytest.mark.parametrize(("shift", "merged"), [(1, 24), (2, 16)])
def test_receptive_field_of_windows_measured_by_gradients(shift: int, merged: int) -> None:
    """Patch conv 2/2 (field 2, jump 2), windows of 4 units (2 + 3*2 = 8), shifted (a window
    meets two tiles: 8 + 4*2 = 16), a 2 x 2 merge: with an odd shift the tile boundaries are
    odd and a merged pair straddles two tiles (16 + 4*2 = 24), with an even one never (16)."""
    torch.manual_seed(0)
    attention = {"ShiftedWindowAttention": {"window_size": 4, "num_heads": 1}}
    shifted = {"ShiftedWindowAttention": {"window_size": 4, "shift_size": shift,
                                          "num_heads": 1}}
    stages = [[], [attention], [attention, shifted], [attention, shifted, "PatchMerging"]]
    for expected, extra in zip([2, 8, 16, merged], stages, strict=True):
        spec = netspec.load({"input": [1, 32, 32], "layers": [
            {"Conv2d": {"out_channels": 2, "kernel_size": 2, "stride": 2}},
            {"Permute": {"dims": [1, 2, 0]}}, *extra, {"Permute": {"dims": [2, 0, 1]}}]})
        rf = netspec.analyze(spec).rf
        assert [int(axis.size) for axis in rf] == [expected, expected]
        model = netspec.build(spec).double().eval()
        for module in model.modules():
            if hasattr(module, "relative_position_bias_table"):
                nn.init.normal_(module.relative_position_bias_table)
        assert support_extents(model, (1, 32, 32)) == (expected, expected)


def test_swin_t_counts_are_torchvisions() -> None:
    """Swin_T_Weights.IMAGENET1K_V1: num_params 28,288,354; buffers 12 x 49^2 indices."""
    spec = netspec.load(SPECS / "swin_t.yaml")
    report = netspec.analyze(spec)
    assert report.params == 28_288_354 and report.output_shape == (1000,)
    assert report.buffers == 12 * 49 * 49
    attention = [row.macs for row in report.layers if row.kind == "ShiftedWindowAttention"]
    by_hand = sum(n * n * (4 * c * c + 2 * 49 * c) * blocks
                  for n, c, blocks in ((56, 96, 2), (28, 192, 2), (14, 384, 6), (7, 768, 2)))
    assert sum(attention) == by_hand
    model = netspec.build(spec, device="meta")
    shapes = [tuple(t.shape) for t in model.state_dict().values()][:10]
    assert shapes == [(96, 3, 4, 4), (96,), (96,), (96,), (96,), (96,), (169, 3), (2401,),
                      (288, 96), (288,)]
    assert math.isclose(sum(p.numel() for p in model.parameters()), 28_288_354)


def test_swin_t_field_grows_stage_by_stage() -> None:
    """Exact in stage 1 and at the first merge (28, 56, 84 pixels), a bound after."""
    report = netspec.analyze(netspec.load(SPECS / "swin_t.yaml"))
    sizes = [int(row.rf[0].size) for row in report.layers
             if row.kind in ("ShiftedWindowAttention", "PatchMerging")]
    assert sizes[:3] == [28, 56, 84]
    assert sizes == sorted(sizes)
