"""specs/maxvit_t.yaml against torchvision's published figures and a hand count.

Published (MaxVit_T_Weights.IMAGENET1K_V1): 30,919,624 parameters, 5.558 GFLOPS, which
torchvision counts as FlopCounterMode / 2. The layout below is torchvision's MaxVit written out
(stem, 4 blocks of 2, 2, 5, 2 MaxVitLayers at 64, 128, 256, 512 channels, classifier); in each
strided MBConv the shortcut ``proj`` comes first, as torchvision registers it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import netspec

MAXVIT_T = Path(__file__).resolve().parent.parent / "specs" / "maxvit_t.yaml"
CHANNELS, DEPTHS = (64, 128, 256, 512), (2, 2, 5, 2)


def bn(c: int) -> list[tuple[int, ...]]:
    return [(c,), (c,), (c,), (c,), ()]  # weight, bias, running_mean, running_var, count


def torchvision_layout() -> list[tuple[int, ...]]:
    shapes = [(64, 3, 3, 3), *bn(64), (64, 64, 3, 3), (64,)]
    cin = 64
    for c, depth in zip(CHANNELS, DEPTHS, strict=True):
        for j in range(depth):
            a, mid, sqz = (cin if j == 0 else c), 4 * c, c // 4
            if j == 0:
                shapes += [(c, a, 1, 1), (c,)]                                # proj.1
            shapes += [*bn(a), (mid, a, 1, 1), *bn(mid), (mid, 1, 3, 3), *bn(mid),
                       (sqz, mid, 1, 1), (sqz,), (mid, sqz, 1, 1), (mid,),    # SE fc1, fc2
                       (c, mid, 1, 1), (c,)]                                  # conv_c
            for _ in ("window", "grid"):
                shapes += [(c,), (c,), (169, c // 32), (49, 49), (3 * c, c), (3 * c,), (c, c),
                           (c,), (c,), (c,), (4 * c, c), (4 * c,), (c, 4 * c), (c,)]
        cin = c
    return [*shapes, (512,), (512,), (512, 512), (512,), (1000, 512)]


def maxvit_macs(size: int = 224) -> int:
    """Stem convs; per layer: shortcut 1x1 (strided), conv_a 1x1 before the stride, depthwise
    3x3, SE on 1x1, conv_c; block and grid attention 4 n^2 c^2 + 2 n^2 49 c, MLPs 8 n^2 c^2;
    the classifier's two Linears."""
    n = size // 2
    total = 64 * 3 * 9 * n * n + 64 * 64 * 9 * n * n
    cin = 64
    for c, depth in zip(CHANNELS, DEPTHS, strict=True):
        for j in range(depth):
            a, n_in, mid, sqz = (cin if j == 0 else c), n, 4 * c, c // 4
            if j == 0:
                n //= 2
                total += c * a * n * n
            total += mid * a * n_in * n_in + mid * 9 * n * n + 2 * sqz * mid + c * mid * n * n
            total += 2 * (4 * n * n * c * c + 2 * n * n * 49 * c + 8 * n * n * c * c)
        cin = c
    return total + 512 * 512 + 512 * 1000


def buffer_elements() -> int:
    """22 relative position indices [49, 49]; each BatchNorm(c): running mean and var, count."""
    norms = [64]
    cin = 64
    for c, depth in zip(CHANNELS, DEPTHS, strict=True):
        norms += [n for j in range(depth) for n in ((cin if j == 0 else c), 4 * c, 4 * c)]
        cin = c
    return 22 * 49 * 49 + sum(2 * c + 1 for c in norms)


def test_hand_counts_equal_the_published_figures() -> None:
    tensors = sum(torch.Size(s).numel() for s in torchvision_layout())
    assert buffer_elements() == 100_472
    assert tensors - buffer_elements() == 30_919_624
    assert maxvit_macs() == 5_558_046_720 and round(maxvit_macs() / 1e9, 3) == 5.558


def test_maxvit_t_counts_and_layout() -> None:
    spec = netspec.load(MAXVIT_T)
    report = netspec.analyze(spec)
    assert report.params == 30_919_624 and report.output_shape == (1000,)
    assert report.buffers == buffer_elements()
    model = netspec.build(spec, device="meta")
    state = model.state_dict()
    assert len(state) == 582
    assert [tuple(t.shape) for t in state.values()] == torchvision_layout()


def test_maxvit_t_macs_by_flop_counter_and_by_hand() -> None:
    model = netspec.build(netspec.load(MAXVIT_T), device="meta").eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    assert int(counter.get_total_flops()) // 2 == maxvit_macs()


def test_maxvit_t_total_macs_are_the_hand_count() -> None:
    linear = netspec.analyze(netspec.load({"input": [2, 3], "layers": [
        {"Linear": {"out_features": 4}}]}))
    assert linear.macs == 2 * 3 * 4  # a Linear counts every token
    assert netspec.analyze(netspec.load(MAXVIT_T)).macs == maxvit_macs()


def test_maxvit_t_summary_is_confirmed_by_torchinfo() -> None:
    assert netspec.summary(MAXVIT_T).confirmed
