"""``--explain`` for adaptive pools: the output sizes, and the receptive field of even windows
(an ordinary window), uneven ones and a single output (the whole axis).

Adaptive window ``i`` of ``m`` over ``n`` inputs spans ``[floor(i n / m), ceil((i + 1) n / m))``
(torch's ATen); each case below lists its windows, worked out by hand.
"""

from __future__ import annotations

import torch

import netspec
from netspec.core.window import Window
from netspec.layers.pool_adaptive import _even_window
from netspec.views.explain import explain_row


def explained(layers: str, shape: list[int]) -> list[list[str]]:
    """The ``--explain`` lines of each layer of a spec made of ``layers``."""
    text = f"input: {shape}\nlayers:\n" + "".join(f"  - {line}\n" for line in layers.splitlines())
    return [explain_row(row) for row in netspec.analyze(netspec.load(text)).layers]


def test_even_and_uneven_axes_each_get_their_own_line() -> None:
    # H: 17 -> 2: windows [0, 9) and [8, 17): width 9, step 8, an ordinary window.
    # W: 10 -> 4: windows [0, 3), [2, 5), [5, 8), [7, 10): steps 2, 3, 2, no single jump, so
    # each unit is bounded by the whole axis: 1 + (10-1)*1 = 10.
    out = torch.nn.AdaptiveAvgPool2d((2, 4))(torch.zeros(1, 1, 17, 10))
    assert out.shape == (1, 1, 2, 4)
    (pool,) = explained("AdaptiveAvgPool2d: {output_size: [2, 4]}", [1, 17, 10])
    assert pool == [
        "H_out = output_size = 2",
        "W_out = output_size = 4",
        "RF_H = 1 + (9-1)*1 = 9, jump = 1*8 = 8",
        "RF_W = 1 + (10-1)*1 = 10, whole axis",
    ]


def test_one_d_even_windows_read_as_one_line() -> None:
    # 12 -> 4: windows of 3 every 3
    (pool,) = explained("AdaptiveMaxPool1d: {output_size: 4}", [3, 12])
    assert pool == ["L_out = output_size = 4", "RF = 1 + (3-1)*1 = 3, jump = 1*3 = 3"]


def test_null_keeps_the_axis_and_a_pooled_axis_stops_the_field_lines() -> None:
    # first pool: H 8 -> 1, the whole axis (1 + (8-1)*1 = 8); W kept, 6 -> 6, windows of 1.
    # second pool: H is now seen whole (not positional): no RF line, only the sizes.
    out = torch.nn.AdaptiveAvgPool2d((1, None))(torch.zeros(1, 2, 8, 6))
    assert out.shape == (1, 2, 1, 6)
    first, second = explained("AdaptiveAvgPool2d: {output_size: [1, null]}\n"
                              "AdaptiveMaxPool2d: {output_size: [1, 3]}", [2, 8, 6])
    assert first == [
        "H_out = output_size = 1",
        "W_out = output_size = 6",
        "RF_H = 1 + (8-1)*1 = 8, whole axis",
        "RF_W = 1 + (1-1)*1 = 1, jump = 1",
    ]
    assert second == ["H_out = output_size = 1", "W_out = output_size = 3"]


def test_even_window_is_the_window_over_the_axis() -> None:
    # 17 -> 2: a window of 9 every 8 over the 17 inputs, which gives floor((17-9)/8) + 1 = 2
    window = _even_window(17, 2)
    assert window == Window(17, 9, 8)
    assert window is not None and window.output == 2
    # 12 -> 4: 3 every 3, floor((12-3)/3) + 1 = 4
    assert _even_window(12, 4) == Window(12, 3, 3)
    assert _even_window(10, 4) is None  # steps 2, 3, 2
    assert _even_window(8, 1) is None  # one output: the whole axis, not a window
