"""``--explain`` for MaxViT's kinds, worked out by hand: a ``[8, 14, 21]`` map in partitions of
7 has ``14*21/49 = 6`` groups of 49 tokens; attention inside them with heads of ``head_dim``."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import torch

import netspec
from netspec.core.shapes import AxisRF
from netspec.views.explain import explain_row


def explained(layers: list[Any], shape: list[int]) -> list[list[str]]:
    report = netspec.analyze(netspec.load({"input": shape, "layers": layers}))
    return [explain_row(row) for row in report.layers]


@pytest.mark.parametrize("kind", ["window", "grid"])
def test_a_partition_explains_its_groups(kind: str) -> None:
    partition = {"Partition": {"partition_type": kind, "partition_size": 7,
                               "layers": ["LayerNorm"]}}
    row, _ = explained([partition], [8, 14, 21])
    assert row == [f"groups: 14*21/7^2 = 6 of 49 tokens ({kind}): [6, 49, 8], back to "
                   "[8, 14, 21]"]


@pytest.mark.parametrize(("head_dim", "heads"), [(4, 2), (2, 4)])
def test_relative_attention_explains_params_and_macs(head_dim: int, heads: int) -> None:
    """D = 8 in ``8 / head_dim`` heads; P = 7: a table of (2*7-1)^2 = 169 offsets per head.
    params: 4*64 + 4*8 + 169 * heads (626 for 2 heads, 964 for 4); index 49^2;
    MACs: 6 groups of (4*49*64 + 2*49^2*8) = 12544 + 38416 = 50960: 305760."""
    partition = {"Partition": {"partition_type": "window", "partition_size": 7, "layers": [
        {"RelativePositionalMultiHeadAttention": {"head_dim": head_dim}}]}}
    _, attention = explained([partition], [8, 14, 21])
    params = 4 * 64 + 4 * 8 + 169 * heads
    assert attention == [
        f"params = 4*8^2 + 4*8 + (2*7-1)^2*{heads} = {params}; buffers = 49^2",
        "MACs = 6*(4*49*8^2 + 2*49^2*8) = 305760",
    ]


def test_relative_attention_messages_name_what_is_wrong() -> None:
    def problem(entry: Any, shape: list[int]) -> netspec.Problem:
        with pytest.raises(netspec.NetspecError) as error:
            netspec.analyze(netspec.load({"input": shape, "layers": [entry]}))
        (found,) = error.value.problems
        return found

    attention = {"RelativePositionalMultiHeadAttention": {"head_dim": 3}}
    not_square = problem(attention, [2, 8, 6])
    assert not_square.message == ("the tokens of a group, 8, must be a square P^2 (a P x P "
                                  "window or grid)")
    indivisible = problem(attention, [2, 9, 8])
    assert indivisible.message == "head_dim=3 must divide the features D = 8"
    assert indivisible.path == ("layers", 0, "RelativePositionalMultiHeadAttention", "head_dim")
    written = problem({"RelativePositionalMultiHeadAttention": {"head_dim": 4, "feat_dim": 6}},
                      [2, 4, 8])
    assert written.message == ("feat_dim follows from the input shape [2, 4, 8] and must be 8; "
                               "received feat_dim=6 (leave it out to have it inferred)")
    assert written.path == ("layers", 0, "RelativePositionalMultiHeadAttention", "feat_dim")
    flat = problem(attention, [9, 6])
    assert flat.message == ("RelativePositionalMultiHeadAttention expects one sample shaped "
                            "[G, S, D] (groups of S tokens) (3 dims); received [9, 6]")


def test_partition_messages_point_at_their_argument() -> None:
    def problem(layers: list[Any], shape: list[int]) -> netspec.Problem:
        with pytest.raises(netspec.NetspecError) as error:
            netspec.analyze(netspec.load({"input": shape, "layers": [{"Partition": {
                "partition_type": "window", "partition_size": 7, "layers": layers}}]}))
        (found,) = error.value.problems
        return found

    uneven = problem(["LayerNorm"], [4, 14, 15])
    assert uneven.message == "H and W (14, 15) must be multiples of partition_size=7"
    assert uneven.path == ("layers", 0, "Partition", "partition_size")
    # 14 x 14 in 7 x 7 windows: 4 groups of 49 tokens of 8 channels; a Linear to 4 changes it
    reshaped = problem([{"Linear": {"out_features": 4}}], [8, 14, 14])
    assert reshaped.message == ("the layers of a Partition must keep the groups' shape "
                                "[4, 49, 8]; they give [4, 49, 4]")
    assert reshaped.path == ("layers", 0, "Partition", "layers")
    with pytest.raises(netspec.NetspecError) as error:
        netspec.analyze(netspec.load({"input": [8, 8], "layers": [{"Partition": {
            "partition_type": "grid", "partition_size": 2, "layers": ["LayerNorm"]}}]}))
    (flat,) = error.value.problems
    assert flat.message == "Partition expects one sample shaped [C, H, W] (3 dims); received [8, 8]"
    assert flat.path == ("layers", 0, "Partition")


@pytest.mark.parametrize("kind", ["window", "grid"])
def test_one_group_of_the_whole_map_sees_it_whole(kind: str) -> None:
    """A 7 x 7 map in partitions of 7: one group holds all 49 pixels, so every output reads
    the whole map: 1 + (7-1)*1 = 7 on each axis, jump 7, centre 3 (gradients agree)."""
    spec = netspec.load({"input": [4, 7, 7], "layers": [{"Partition": {
        "partition_type": kind, "partition_size": 7,
        "layers": [{"RelativePositionalMultiHeadAttention": {"head_dim": 2}}]}}]})
    whole = AxisRF(Fraction(7), Fraction(7), Fraction(3), positional=False)
    assert netspec.analyze(spec).rf == (whole, whole)
    x = torch.randn(1, 4, 7, 7, requires_grad=True)
    netspec.build(spec).eval()(x)[0, :, 0, 0].sum().backward()
    assert x.grad is not None and bool((x.grad[0].abs().sum(0) > 0).all())


def test_a_grid_after_windows_reads_the_tiles_it_crosses() -> None:
    """Patch conv 2/2 on 28 x 42: 14 x 21 units of field 2, jump 2. Windows of 7: tiles of 7
    units, field 2 + 6*2 = 14. A grid of 7 then reads units 2 apart along H (first and last
    unit 12 apart: 2 tiles, 14 + 7*2 = 28 rows) and 3 apart along W (18 apart: 3 tiles,
    14 + 2*7*2 = 42 columns): the whole input, as the gradients show, and no more (counting
    whole tiles past the span gave 42 x 56, beyond the input)."""
    attention = {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}
    spec = netspec.load({"input": [2, 28, 42], "layers": [
        {"Conv2d": {"out_channels": 4, "kernel_size": 2, "stride": 2}},
        {"Partition": {"partition_type": "window", "partition_size": 7, "layers": [attention]}},
        {"Partition": {"partition_type": "grid", "partition_size": 7, "layers": [attention]}}]})
    assert [int(axis.size) for axis in netspec.analyze(spec).rf] == [28, 42]
    torch.manual_seed(0)
    model = netspec.build(spec, dtype=torch.float64).eval()
    x = torch.randn(1, 2, 28, 42, dtype=torch.float64, requires_grad=True)
    # every group spans the same tiles: unit (0, 0) reads as far as any
    model(x)[0, :, 0, 0].sum().backward()
    assert x.grad is not None
    seen = x.grad[0].abs().sum(0) > 0
    assert (int(seen.any(1).sum()), int(seen.any(0).sum())) == (28, 42)


@pytest.mark.parametrize(("side", "unit", "first"), [(16, 3, 4), (12, 1, 0)])
def test_a_grid_after_small_windows_spans_three_tiles(side: int, unit: int, first: int) -> None:
    """Patch conv 2/2: ``side / 2`` units of field 2, jump 2, centre 0.5. Windows of 2: tiles
    of 2 units, field 2 + 1*2 = 4. A grid of 2 pairs units ``n / 2`` apart: on 8 units, f and
    f + 4 (tiles f//2 and f//2 + 2); on 6 units, f and f + 3 (unit 1 with 4: tiles 0 and 2).
    Either way a hull of 3 tiles, 6 units: 4 + 2*2*2 = 12 pixels, jump and centre kept."""
    attention = {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}
    spec = netspec.load({"input": [2, side, side], "layers": [
        {"Conv2d": {"out_channels": 4, "kernel_size": 2, "stride": 2}},
        {"Partition": {"partition_type": "window", "partition_size": 2, "layers": [attention]}},
        {"Partition": {"partition_type": "grid", "partition_size": 2, "layers": [attention]}}]})
    field = AxisRF(Fraction(12), Fraction(2), Fraction(1, 2))
    assert netspec.analyze(spec).rf == (field, field)
    torch.manual_seed(0)
    model = netspec.build(spec, dtype=torch.float64).eval()
    x = torch.randn(1, 2, side, side, dtype=torch.float64, requires_grad=True)
    model(x)[0, :, unit, unit].sum().backward()
    assert x.grad is not None
    seen = x.grad[0].abs().sum(0) > 0
    ys, xs = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
    last = first + 11
    assert (int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())) == (first, last,
                                                                              first, last)
