"""A convolution's ``--explain`` arithmetic where it branches (two groups, a dilated transposed
kernel, an axis seen whole), and the per-channel bias the lints read. Every number is worked by
hand in the docstring or comment above it; counts are checked against torch's own modules.
"""

from __future__ import annotations

import torch

import netspec
from netspec.views.explain import explain_row


def rows(shape: str, *layers: str) -> list[list[str]]:
    """The explain lines of each top-level row of a spec made of ``layers``."""
    text = f"input: {shape}\nlayers:\n" + "".join(f"  - {line}\n" for line in layers)
    report = netspec.analyze(netspec.load(text))
    return [explain_row(row) for row in report.top_level()]


def test_two_groups_show_the_input_channels_divided() -> None:
    """[4, 8, 8], k3, 2 groups: 6 outputs each read 4/2 = 2 channels; 8 - 3 + 1 = 6 per side.
    params = 6*2*9 + 6 = 114, MACs = 6*6*6 outputs * 2*9 = 216*18 = 3,888."""
    (conv,) = rows("[4, 8, 8]", "Conv2d: {out_channels: 6, kernel_size: 3, groups: 2}")
    assert sum(p.numel() for p in torch.nn.Conv2d(4, 6, 3, groups=2).parameters()) == 114
    assert conv[2:4] == [
        "params = 6*(4/2*3*3) + 6 = 114",
        "MACs = (6*6*6)*(4/2*3*3) = 3,888 (bias not counted)",
    ]


def test_two_groups_of_a_transposed_convolution_show_the_output_channels_divided() -> None:
    """[4, 5, 5] into 6 channels, k3, 2 groups: every input element goes through a 3x3 kernel
    into 6/2 = 3 channels, MACs = 4*5*5 * 3*9 = 100*27 = 2,700; (5-1) + (3-1) + 1 = 7 per side.
    params = 6*(4/2*3*3) + 6 = 114 (torch stores the weight as [4, 3, 3, 3], plus 6 biases)."""
    (conv,) = rows("[4, 5, 5]", "ConvTranspose2d: {out_channels: 6, kernel_size: 3, groups: 2}")
    assert sum(p.numel() for p in torch.nn.ConvTranspose2d(4, 6, 3, groups=2).parameters()) == 114
    assert conv[2:4] == [
        "params = 6*(4/2*3*3) + 6 = 114",
        "MACs = (4*5*5)*(6/2*3*3) = 2,700 (bias not counted)",
    ]


def test_a_dilated_transposed_kernel_shows_its_dilation_in_the_field() -> None:
    """k3, dilation 2, stride 2 on a length of 5: (5-1)*2 + 2*(3-1) + 1 = 13 out. The taps span
    2*(3-1) = 4 output steps, each 1/2 of an input step: r = 1 + 4*1/2 = 3; the jump halves,
    1/2 = 0.5."""
    (conv,) = rows("[1, 5]", "ConvTranspose1d: {out_channels: 1, kernel_size: 3, stride: 2, "
                             "dilation: 2}")
    assert torch.nn.ConvTranspose1d(1, 1, 3, stride=2, dilation=2)(torch.zeros(1, 1, 5)).shape[
        -1] == 13
    assert conv[0] == "L_out = (5-1)*2 - 2*0 + 2*(3-1) + 0 + 1 = 13"
    assert conv[-1] == "RF = 1 + 2*(3-1)*1/2 = 3, jump = 1/2 = 0.5"


def test_a_transposed_convolution_after_a_global_pool_has_no_field_line() -> None:
    """The global pool makes every unit see the whole length of 8 (1 + (8-1)*1 = 8): a later
    kernel cannot widen the field, so the transposed convolution explains its size and counts
    only. (1-1)*1 + (2-1) + 1 = 2 out; params = 1*(1*2) + 1 = 3; MACs = 1*1*2 = 2."""
    pool, conv = rows("[1, 8]", "AdaptiveAvgPool1d: {output_size: 1}",
                      "ConvTranspose1d: {out_channels: 1, kernel_size: 2}")
    assert pool[-1] == "RF = 1 + (8-1)*1 = 8, whole axis"
    assert conv == [
        "L_out = (1-1)*1 - 2*0 + 1*(2-1) + 0 + 1 = 2",
        "params = 1*(1*2) + 1 = 3",
        "MACs = (1*1)*(1*2) = 2 (bias not counted)",
    ]


def test_the_per_channel_bias_is_one_value_per_output_channel_or_none() -> None:
    """What the lints read before a norm that cancels it: torch's bias has out_channels values."""
    spec = netspec.load("input: [1, 28, 28]\nlayers:\n"
                        "  - Conv2d: {out_channels: 6, kernel_size: 5}\n"
                        "  - Conv2d: {out_channels: 6, kernel_size: 5, bias: false}\n"
                        "  - ConvTranspose2d: {out_channels: 3, kernel_size: 2}\n"
                        "  - ConvTranspose2d: {out_channels: 3, kernel_size: 2, bias: false}\n")
    report = netspec.analyze(spec)
    torch_bias = torch.nn.Conv2d(1, 6, 5).bias
    assert torch_bias is not None
    assert torch.nn.Conv2d(1, 6, 5, bias=False).bias is None
    biases = [row.layer.channel_bias(row.in_shape) for row in report.top_level()
              if row.layer is not None]
    assert biases == [torch_bias.numel(), 0, 3, 0]
