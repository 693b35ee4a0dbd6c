"""More checks of Swin's kinds (``netspec.layers.windows``): a second independent reference
(windows by region label, written from the paper) over padded, shifted and clamped cases, with
hand-counted parameters, buffers and MACs against FlopCounterMode / 2; random specs (hypothesis)
against the built modules; the round trip through ``from_module``; the drawing."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from tests.torch_check import assert_round_trip_keeps_outputs


def reference_index(wh: int, ww: int) -> torch.Tensor:
    """For a (query, key) pair of a window, row-major: ``(dy + wh - 1)(2ww - 1) + dx + ww - 1``."""
    ys, xs = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
    ys, xs = ys.reshape(-1), xs.reshape(-1)
    return ((ys[:, None] - ys[None, :] + wh - 1) * (2 * ww - 1)
            + xs[:, None] - xs[None, :] + ww - 1).reshape(-1)


def labels(size: int, window: int, shift: int) -> torch.Tensor:
    """Rolled frame of one padded axis: 0 ordinary, 1 before the wrap, 2 wrapped round."""
    out = torch.zeros(size, dtype=torch.long)
    if shift:
        out[size - window: size - shift] = 1
        out[size - shift:] = 2
    return out


def reference_attention(x: torch.Tensor, qkv: nn.Linear, proj: nn.Linear, table: torch.Tensor,
                        window: tuple[int, int], shift: tuple[int, int],
                        heads: int) -> torch.Tensor:
    """Swin's (shifted) window attention on ``[B, H, W, C]``, written from the paper."""
    batch, height, width, dim = x.shape
    wh, ww = window
    ph, pw = -height % wh, -width % ww
    x = F.pad(x, (0, 0, 0, pw, 0, ph))
    hp, wp = height + ph, width + pw
    sh, sw = (shift[0] if wh < hp else 0), (shift[1] if ww < wp else 0)
    x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
    nh, nw, m = hp // wh, wp // ww, wh * ww
    win = x.view(batch, nh, wh, nw, ww, dim).transpose(2, 3).reshape(-1, m, dim)
    q, k, v = qkv(win).view(-1, m, 3, heads, dim // heads).permute(2, 0, 3, 1, 4).unbind(0)
    bias = table[reference_index(wh, ww)].view(m, m, -1).permute(2, 0, 1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(dim // heads) + bias
    region = (labels(hp, wh, sh)[:, None] * 3 + labels(wp, ww, sw)[None, :])
    region = region.view(nh, wh, nw, ww).transpose(1, 2).reshape(nh * nw, m)
    blocked = (region[:, :, None] != region[:, None, :]).to(scores.dtype) * -100.0
    scores = (scores.view(batch, nh * nw, heads, m, m) + blocked[None, :, None]).view(
        -1, heads, m, m)
    out = proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(-1, m, dim))
    out = out.view(batch, nh, nw, wh, ww, dim).transpose(2, 3).reshape(batch, hp, wp, dim)
    return torch.roll(out, shifts=(sh, sw), dims=(1, 2))[:, :height, :width]


def one_layer(shape: list[int], entry: dict[str, Any]) -> tuple[netspec.Report, nn.Module]:
    spec = netspec.load({"input": shape, "layers": [entry]})
    return netspec.analyze(spec), netspec.build(spec)[0]


def flop_macs(module: nn.Module, shape: list[int]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.zeros(1, *shape))
    return int(counter.get_total_flops()) // 2


CASES = [  # (H, W, C), window, shift, heads
    ([14, 14, 12], 7, 0, 3),
    ([14, 14, 12], 7, 3, 3),
    ([9, 10, 8], [4, 3], [2, 1], 2),   # padded to 12 x 12
    ([7, 7, 8], 7, 3, 4),              # one window covers the map: the shift is clamped to 0
    ([7, 16, 8], [7, 4], [3, 2], 2),   # clamped on H only
]


@pytest.mark.parametrize(("shape", "window", "shift", "heads"), CASES)
def test_shifted_window_attention_equals_the_reference(
    shape: list[int], window: Any, shift: Any, heads: int
) -> None:
    entry = {"ShiftedWindowAttention": {"window_size": window, "shift_size": shift,
                                        "num_heads": heads}}
    report, module = one_layer(shape, entry)
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    wh, ww = (window, window) if isinstance(window, int) else window
    sh, sw = (shift, shift) if isinstance(shift, int) else shift
    module.eval()
    with torch.no_grad():
        for tensor in module.parameters():
            tensor.normal_()
        expected = reference_attention(x, module.qkv, module.proj,
                                       module.relative_position_bias_table, (wh, ww), (sh, sw),
                                       heads)
        torch.testing.assert_close(module(x), expected, rtol=1e-5, atol=1e-5)
    # hand counts: qkv 3C^2 + 3C, proj C^2 + C, table (2wh-1)(2ww-1) heads; index (wh ww)^2
    h, w, c = shape
    params = 4 * c * c + 4 * c + (2 * wh - 1) * (2 * ww - 1) * heads
    row = report.layers[0]
    assert row.params == params == sum(p.numel() for p in module.parameters())
    assert row.buffers == (wh * ww) ** 2 == module.relative_position_index.numel()
    hp, wp = -(-h // wh) * wh, -(-w // ww) * ww
    macs = hp * wp * 4 * c * c + (hp // wh) * (wp // ww) * 2 * (wh * ww) ** 2 * c
    assert row.macs == macs == flop_macs(module, shape)
    assert set(module.state_dict()) == {"relative_position_bias_table",
                                        "relative_position_index", "qkv.weight", "qkv.bias",
                                        "proj.weight", "proj.bias"}


def test_swin_kinds_round_trip_through_from_module() -> None:
    spec = netspec.load({"input": [14, 14, 12], "layers": [
        {"ShiftedWindowAttention": {"window_size": [7, 7], "shift_size": [3, 3], "num_heads": 3,
                                    "qkv_bias": False}},
        {"PatchMerging": {"eps": 1e-6}}]})
    assert_round_trip_keeps_outputs(spec)


def test_the_drawing_shows_the_windows() -> None:
    from netspec.views.diagram import draw

    chart = draw(netspec.load({"input": [14, 14, 8], "layers": [
        {"ShiftedWindowAttention": {"window_size": 7, "shift_size": 3, "num_heads": 2}},
        "PatchMerging"]}), format="svg")
    assert "ShiftedWindowAttention" in chart and "PatchMerging" in chart
    times = "\N{MULTIPLICATION SIGN}"
    assert f"7{times}7{times}16" in chart  # the merge: [ceil(14/2), ceil(14/2), 2*8]



@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), heads=st.integers(1, 3),
       per_head=st.integers(1, 4), wh=st.integers(1, 5), ww=st.integers(1, 5), data=st.data())
def test_random_window_attention_agrees_with_the_module(
    h: int, w: int, heads: int, per_head: int, wh: int, ww: int, data: st.DataObject
) -> None:
    shift = [data.draw(st.integers(0, wh - 1)), data.draw(st.integers(0, ww - 1))]
    c = heads * per_head
    layers: list[Any] = [{"ShiftedWindowAttention": {
        "window_size": [wh, ww], "shift_size": shift, "num_heads": heads,
        "qkv_bias": data.draw(st.booleans())}}]
    if data.draw(st.booleans()):
        layers.append("PatchMerging")
    spec = netspec.load({"input": [h, w, c], "layers": layers})
    report = netspec.analyze(spec)
    model = netspec.build(spec).eval()
    with torch.no_grad():
        out = model(torch.randn(2, h, w, c))
    assert tuple(out.shape[1:]) == report.output_shape
    assert report.params == sum(p.numel() for p in model.parameters())
    assert report.buffers == sum(b.numel() for b in model.buffers())
    assert report.layers[0].macs == flop_macs(model[0], [h, w, c])
    if len(model) == 2:
        assert report.layers[1].macs == flop_macs(model[1], [h, w, c])
