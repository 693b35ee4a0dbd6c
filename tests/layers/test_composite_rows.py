"""A composite's own row (its place, its totals, what it is), how many modules composites build
into (``module_count``, the limit on ``Repeat``), and a window tiling carried through a residual
addition.

Expected numbers are hand counts written beside them or torch's own modules' counts.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import netspec
from netspec.core.shapes import AxisRF
from netspec.layers import ReLU
from netspec.layers.base import Layer
from netspec.layers.branches import Parallel, Residual
from netspec.layers.composite import Repeat, Sequential, module_count


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_a_composite_row_sums_its_direct_children() -> None:
    """``stem`` (index 1, after a ReLU) holds a Conv2d(3, 4, 3) and a Residual whose body is a
    Conv2d(4, 4, 3, padding=1) and a BatchNorm2d(4): its totals are theirs, counted once (the
    residual's own row already sums its body). The Residual is frozen."""
    spec = netspec.load({"input": [3, 8, 8], "layers": ["ReLU", {"Sequential": {
        "name": "stem", "layers": [
            {"Conv2d": {"out_channels": 4, "kernel_size": 3}},
            {"Residual": {"trainable": False, "body": [
                {"Conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
                "BatchNorm2d"]}}]}}]})
    rows = netspec.analyze(spec).layers
    stem = rows[1]
    conv, inner, norm = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
    assert (stem.index, stem.name, stem.kind, stem.path, stem.depth) == (
        1, "stem", "Sequential", "layers[1]", 0)
    assert (stem.in_shape, stem.out_shape) == ((3, 8, 8), (4, 6, 6))
    assert stem.trainable_params == params(conv)
    assert stem.non_trainable_params == params(inner) + params(norm)
    assert stem.buffers == sum(b.numel() for b in norm.buffers())
    # MACs: 36 outputs x 4 x 27, then 36 x 4 x 36; the batch norm none (FlopCounterMode's)
    assert stem.macs == 36 * 4 * 27 + 36 * 4 * 36
    assert stem.layer is spec.layers[1]
    assert stem.in_rf == (AxisRF(),) * 2  # the ReLU before reads one pixel
    residual = rows[3]
    assert (residual.kind, residual.depth, residual.trainable_params) == ("Residual", 1, 0)
    assert [row.depth for row in rows] == [0, 0, 1, 1, 2, 2]


def test_a_frozen_group_counts_all_its_parameters_as_frozen() -> None:
    """Conv2d(3, 4, 3), then Conv2d(4, 2, 1) frozen already: the frozen group freezes both."""
    spec = netspec.load({"input": [3, 8, 8], "layers": [{"Sequential": {
        "trainable": False, "layers": [
            {"Conv2d": {"out_channels": 4, "kernel_size": 3}},
            {"Conv2d": {"out_channels": 2, "kernel_size": 1, "trainable": False}}]}}]})
    report = netspec.analyze(spec)
    count = params(nn.Conv2d(3, 4, 3)) + params(nn.Conv2d(4, 2, 1))
    assert (report.layers[0].trainable_params, report.layers[0].non_trainable_params) == (
        0, count)
    model = netspec.build(spec)
    assert sum(p.numel() for p in model.parameters() if not p.requires_grad) == count


def relus(n: int) -> list[Layer]:
    return [ReLU() for _ in range(n)]


@pytest.mark.parametrize(("layer", "count"), [
    (ReLU(), 1),
    (Sequential(layers=relus(3)), 1 + 3),
    # the block, its body, its shortcut's layers, its post
    (Residual(body=relus(2), shortcut=relus(3), post=relus(1)), 1 + 2 + 3 + 1),
    (Residual(body=relus(2), shortcut="identity"), 1 + 2),
    (Parallel(branches=[relus(2), relus(3), relus(1)]), 1 + 6),
    # a composite inside a branch counts its own layers
    (Parallel(branches=[[Sequential(layers=relus(2))], relus(1)]), 1 + (1 + 2) + 1),
    # Repeat adds no module: its copies only
    (Repeat(times=4, layers=[ReLU(), Sequential(layers=relus(2))]), 4 * (1 + 3)),
    (Repeat(times=3, layers=[Repeat(times=5, layers=relus(2))]), 3 * 5 * 2),
])
def test_module_count_by_hand(layer: Layer, count: int) -> None:
    assert module_count(layer) == count


def test_module_count_is_what_torch_builds_for_a_block() -> None:
    """A Residual builds into itself, nn.Sequential containers for body, shortcut and post
    (not counted: they are the lists) and one module per layer."""
    layer = Residual(body=relus(2), shortcut=relus(3), post=relus(1))
    model = netspec.build(netspec.Spec(input=(2, 4, 4), layers=[layer]))
    built = [m for m in model[0].modules() if type(m) is not nn.Sequential]
    assert len(built) == module_count(layer)


@pytest.mark.parametrize(("inner", "count"), [
    ({"Residual": {"body": ["ReLU"] * 4, "shortcut": ["ReLU"] * 3, "post": ["ReLU"] * 3}},
     "11,000"),
    ({"Parallel": {"branches": [["ReLU"] * 5, ["ReLU"] * 5]}}, "11,000"),
    ({"Repeat": {"times": 11, "layers": ["ReLU"]}}, "11,000"),
])
def test_repeat_refuses_more_than_ten_thousand_modules(inner: dict[str, Any],
                                                       count: str) -> None:
    """1,000 copies of a block of 11 modules (the block itself and 10 layers; a Repeat adds
    none of its own)."""
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.load({"input": [2, 4, 4], "layers": [{"Repeat": {"times": 1000,
                                                                 "layers": [inner]}}]})
    message = caught.value.problems[0].message
    assert f"Repeat expands to {count} modules (nested repeats multiply); the limit is 10,000" \
        in message


def test_repeat_at_the_limit_is_accepted() -> None:
    """1,000 copies of a Parallel of 9 layers: exactly 10,000 modules."""
    spec = netspec.load({"input": [2, 4, 4], "layers": [{"Repeat": {"times": 1000, "layers": [
        {"Parallel": {"merge": "add", "branches": [["ReLU"] * 4, ["ReLU"] * 5]}}]}}]})
    assert module_count(spec.layers[0]) == 10_000


@pytest.mark.parametrize(("shift", "size"), [(1, 8), (2, 4)])
def test_window_tiling_survives_a_residual_addition(shift: int, size: int) -> None:
    """Swin's windows of 4 units inside a residual (identity shortcut, one pixel), then a 2x2
    patch merging: the addition keeps the body's tiling, so with an odd shift (tiles starting
    at 1 + 4m) a merged pair (2k, 2k + 1) straddles two tiles and reads 2 x 4 = 8 pixels; with
    an even shift it never does and reads one tile, 4 (test_windows measures both)."""
    torch.manual_seed(0)
    attention = {"ShiftedWindowAttention": {"window_size": 4, "shift_size": shift,
                                            "num_heads": 1}}
    spec = netspec.load({"input": [2, 8, 8], "layers": [
        {"Permute": {"dims": [1, 2, 0]}}, {"Residual": {"body": [attention]}}, "PatchMerging",
        {"Permute": {"dims": [2, 0, 1]}}]})
    assert [int(axis.size) for axis in netspec.analyze(spec).rf] == [size, size]


def test_a_residual_row_counts_its_post() -> None:
    """Body Conv2d(2, 2, 3, padding=1), identity shortcut, post BatchNorm2d(2)."""
    rows = netspec.analyze(netspec.load({"input": [2, 4, 4], "layers": [{"Residual": {
        "body": [{"Conv2d": {"out_channels": 2, "kernel_size": 3, "padding": 1}}],
        "shortcut": "identity", "post": ["BatchNorm2d"]}}]})).layers
    norm = nn.BatchNorm2d(2)
    assert rows[0].params == params(nn.Conv2d(2, 2, 3, padding=1)) + params(norm)
    assert rows[0].buffers == sum(b.numel() for b in norm.buffers())
    assert [(row.kind, row.depth) for row in rows] == [
        ("Residual", 0), ("Conv2d", 1), ("BatchNorm2d", 1)]
