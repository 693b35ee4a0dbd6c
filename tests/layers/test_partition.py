"""MaxViT's kinds against references written here: the window and grid groups gathered by
explicit indexing, attention with a relative position bias written by hand, counts by hand and
FlopCounterMode / 2, and maxvit_t against torchvision's published figures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import netspec

SPECS = Path(__file__).resolve().parents[2] / "specs"


def groups_by_hand(x: torch.Tensor, size: int, grid: bool) -> torch.Tensor:
    """``[C, H, W] -> [G, size^2, C]``: window: tile (a, b) holds pixels (a P + i, b P + j);
    grid: offset (a, b) holds pixels (i H/P + a, j W/P + b); tokens row-major in (i, j)."""
    _, h, w = x.shape
    step_h, step_w = h // size, w // size
    groups = []
    for a in range(step_h):
        for b in range(step_w):
            if grid:
                cells = [x[:, i * step_h + a, j * step_w + b]
                         for i in range(size) for j in range(size)]
            else:
                cells = [x[:, a * size + i, b * size + j]
                         for i in range(size) for j in range(size)]
            groups.append(torch.stack(cells))
    return torch.stack(groups)


@pytest.mark.parametrize("kind", ["window", "grid"])
def test_partition_hands_its_layers_the_groups_by_hand(kind: str) -> None:
    spec = netspec.load({"input": [2, 6, 9], "layers": [{"Partition": {
        "partition_type": kind, "partition_size": 3, "layers": [
            {"Linear": {"out_features": 2, "bias": False}}]}}]})
    assert netspec.analyze(spec).layers[1].in_shape == (6, 9, 2)
    model = netspec.build(spec).eval()
    weight = model[0].layers[0].weight
    x = torch.randn(1, 2, 6, 9)
    with torch.no_grad():
        out = model(x)[0]
        expected = groups_by_hand(x[0], 3, kind == "grid") @ weight.T
        torch.testing.assert_close(groups_by_hand(out, 3, kind == "grid"), expected)


def test_relative_attention_equals_hand_written() -> None:
    torch.manual_seed(0)
    spec = netspec.load({"input": [2, 4, 8], "layers": [
        {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}]})
    model = netspec.build(spec).double().eval()
    attn = model[0]
    x = torch.randn(1, 2, 4, 8, dtype=torch.float64)
    q, k, v = (x[0] @ attn.to_qkv.weight.T + attn.to_qkv.bias).split(8, dim=-1)
    out = torch.zeros(2, 4, 8, dtype=torch.float64)
    for head in range(2):
        part = slice(head * 4, head * 4 + 4)
        scores = q[..., part] @ (k[..., part] * 8 ** -0.5).transpose(-1, -2)  # [G, 4, 4]
        for a in range(4):
            for b in range(4):
                dy, dx = a // 2 - b // 2, a % 2 - b % 2  # a 2 x 2 group, row-major
                scores[:, a, b] += attn.relative_position_bias_table[(dy + 1) * 3 + dx + 1, head]
        out[..., part] = scores.softmax(-1) @ v[..., part]
    expected = out @ attn.merge.weight.T + attn.merge.bias
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], expected)
    report = netspec.analyze(spec)
    assert report.params == 4 * 64 + 4 * 8 + 9 * 2 and report.buffers == 16
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    assert counter.get_total_flops() // 2 == report.macs == 2 * (4 * 4 * 64 + 2 * 16 * 8)


def test_maxvit_t_counts_are_torchvisions() -> None:
    """MaxVit_T_Weights.IMAGENET1K_V1: num_params 30,919,624; buffers 22 indices of 49 x 49
    plus the batch norms' statistics."""
    spec = netspec.load(SPECS / "maxvit_t.yaml")
    report = netspec.analyze(spec)
    assert report.params == 30_919_624 and report.output_shape == (1000,)
    indices = [row for row in report.layers if row.kind == "RelativePositionalMultiHeadAttention"]
    assert len(indices) == 22 and sum(row.buffers for row in indices) == 22 * 49 * 49
    attention = sum(row.macs for row in indices)
    # per block: 2 attentions x (4 N C^2 + 2 N 49 C), N = tokens of the map
    by_hand = sum(layers * 2 * (4 * n * n * c * c + 2 * n * n * 49 * c)
                  for n, c, layers in ((56, 64, 2), (28, 128, 2), (14, 256, 5), (7, 512, 2)))
    assert attention == by_hand
    model = netspec.build(spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == 30_919_624


def test_partition_needs_multiples_of_its_size() -> None:
    with pytest.raises(netspec.SpecError, match="multiples of partition_size=7"):
        netspec.load({"input": [4, 10, 14], "layers": [{"Partition": {
            "partition_type": "window", "partition_size": 7, "layers": ["LayerNorm"]}}]})
