"""specs/swin_t.yaml against torchvision's published figures and a hand count.

Published (Swin_T_Weights.IMAGENET1K_V1): 28,288,354 parameters, 4.491 GFLOPS, which
torchvision counts as FlopCounterMode / 2 (multiply-accumulates of matrix products). The layout
(parameter and buffer shapes, in torchvision's state-dict order) is written out below from
torchvision's SwinTransformer: features.0 (Conv2d 3->96 4/4, Permute, LayerNorm), stages of
2, 2, 6, 2 blocks at widths 96, 192, 384, 768 with 3, 6, 12, 24 heads, PatchMerging between
them, norm, head.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import netspec

SWIN_T = Path(__file__).resolve().parent.parent / "specs" / "swin_t.yaml"
DEPTHS, WIDTHS, HEADS, WINDOW = (2, 2, 6, 2), (96, 192, 384, 768), (3, 6, 12, 24), 7


def torchvision_layout() -> list[tuple[int, ...]]:
    """Shapes of swin_t's state dict in order (parameters and the int64 index buffers)."""
    shapes: list[tuple[int, ...]] = [(96, 3, 4, 4), (96,), (96,), (96,)]
    table = (2 * WINDOW - 1) ** 2
    for stage, (depth, c, heads) in enumerate(zip(DEPTHS, WIDTHS, HEADS, strict=True)):
        for _ in range(depth):
            shapes += [(c,), (c,),                                   # norm1
                       (table, heads), (WINDOW**4,),                 # bias table, index
                       (3 * c, c), (3 * c,), (c, c), (c,),           # qkv, proj
                       (c,), (c,),                                   # norm2
                       (4 * c, c), (4 * c,), (c, 4 * c), (c,)]       # mlp
        if stage < 3:
            shapes += [(2 * c, 4 * c), (4 * c,), (4 * c,)]           # reduction, norm
    return [*shapes, (768,), (768,), (1000, 768), (1000,)]


def swin_macs(size: int = 224) -> int:
    """Patch conv (no bias); per block 4 Hp Wp C^2 + 2 Hp Wp M C (M = 49) + 8 H W C^2 (MLP);
    merges ceil(H/2) ceil(W/2) 8 C^2; the head."""
    side = size // 4
    total = 96 * 3 * 16 * side * side
    for stage, (depth, c) in enumerate(zip(DEPTHS, WIDTHS, strict=True)):
        padded = -(-side // WINDOW) * WINDOW
        attention = 4 * padded**2 * c * c + 2 * padded**2 * WINDOW**2 * c
        total += depth * (attention + 8 * side * side * c * c)
        if stage < 3:
            side = -(-side // 2)
            total += side * side * 8 * c * c
    return total + 768 * 1000


def test_hand_counts_equal_the_published_figures() -> None:
    layout = torchvision_layout()
    indices = sum(s[0] for s in layout if s == (WINDOW**4,))
    assert sum(torch.Size(s).numel() for s in layout) - indices == 28_288_354
    assert swin_macs() == 4_490_566_656 and round(swin_macs() / 1e9, 3) == 4.491


def test_swin_t_counts_and_layout() -> None:
    spec = netspec.load(SWIN_T)
    report = netspec.analyze(spec)
    assert report.params == 28_288_354 and report.output_shape == (1000,)
    assert report.buffers == 12 * WINDOW**4
    model = netspec.build(spec, device="meta")
    state = model.state_dict()
    assert [tuple(t.shape) for t in state.values()] == torchvision_layout()
    assert [t.dtype for t in state.values()].count(torch.int64) == 12


def test_swin_t_macs_by_flop_counter_and_by_hand() -> None:
    """FlopCounterMode / 2 on the built module (meta tensors: shapes only) is the hand count;
    netspec's window rows are their share of it."""
    spec = netspec.load(SWIN_T)
    model = netspec.build(spec, device="meta").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    assert int(counter.get_total_flops()) // 2 == swin_macs()
    report = netspec.analyze(spec)
    windows = sum(row.macs for row in report.layers if row.kind == "ShiftedWindowAttention")
    assert windows == sum(
        depth * (4 * n * n * c * c + 2 * n * n * 49 * c)
        for depth, c, n in zip(DEPTHS, WIDTHS, (56, 28, 14, 7), strict=True))
    merges = sum(row.macs for row in report.layers if row.kind == "PatchMerging")
    assert merges == sum(n * n * 8 * c * c for c, n in zip(WIDTHS, (28, 14, 7), strict=False))


def test_swin_t_total_macs_are_the_hand_count() -> None:
    linear = netspec.analyze(netspec.load({"input": [2, 3], "layers": [
        {"Linear": {"out_features": 4}}]}))
    assert linear.macs == 2 * 3 * 4  # a Linear counts every token
    assert netspec.analyze(netspec.load(SWIN_T)).macs == swin_macs()


def test_swin_t_summary_is_confirmed_by_torchinfo() -> None:
    assert netspec.summary(SWIN_T).confirmed


def test_swin_t_field_grows_stage_by_stage() -> None:
    """The closed form (netspec.layers.windows), one axis in pixels: patch 4; stage 1 windows
    +6*4 = 28, shifted +7*4 = 56; merge (2 tiles of 7 tokens) +28 = 84, jump 8; stage 2
    +6*8 = 132, +7*8 = 188; merge +7*8 = 244, jump 16; stage 3 +6*16 = 340, then +7*16 each:
    452, 564, 676, 788, 900; merge +7*16 = 1012; stage 4: one window covers 7 x 7, whole:
    +6*32 = 1204. Exact through 84 (gradients, tests/layers/test_windows.py), then upper
    bounds of the true field (at most the 224-pixel image)."""
    report = netspec.analyze(netspec.load(SWIN_T))
    attention = [int(row.rf[0].size) for row in report.layers
                 if row.kind in ("ShiftedWindowAttention", "PatchMerging")]
    assert attention == [28, 56, 84, 132, 188, 244, 340, 452, 564, 676, 788, 900, 1012,
                         1204, 1204]
    assert not report.layers[-1].rf or not report.layers[-1].rf[0].positional
