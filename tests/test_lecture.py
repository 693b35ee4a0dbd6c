"""The lecture's facts about convolutions, checked through netspec and against torch.

Every expected number is written out by hand arithmetic (the formula is in the test), or read
from torch's own modules; none is netspec's output pasted back. Source: the course lecture
notebook (``nn.Conv2d(1, 3, stride=1, kernel_size=(4, 5))`` and its "CNN" notes).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import netspec

SPECS = Path(__file__).resolve().parent.parent / "specs"


def one_layer(input_shape: list[int], kind: str, **args: object) -> netspec.Spec:
    return netspec.load({"input": input_shape, "layers": [{kind: dict(args)}]})


def numel(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def torch_output_shape(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(model.eval()(torch.zeros(1, *input_shape)).shape[1:])


# --- nn.Conv2d(1, 3, kernel_size=(4, 5)): the lecture's first cell ---


def test_seed_conv_weight_shape_is_filters_by_channels_by_kernel() -> None:
    spec = netspec.load(SPECS / "seed_conv.yaml")
    conv = netspec.build(spec)[0]
    # 3 filters (out_channels), each over 1 input channel, 4 rows by 5 columns.
    assert tuple(conv.weight.shape) == (3, 1, 4, 5)
    assert tuple(conv.weight.shape) == tuple(nn.Conv2d(1, 3, kernel_size=(4, 5)).weight.shape)
    assert tuple(conv.bias.shape) == (3,)


def test_seed_conv_has_63_parameters() -> None:
    spec = netspec.load(SPECS / "seed_conv.yaml")
    expected = 3 * 1 * 4 * 5 + 3  # weights + one bias per filter
    assert expected == 63
    assert netspec.analyze(spec).params == expected
    assert numel(netspec.build(spec)) == expected
    assert numel(nn.Conv2d(1, 3, kernel_size=(4, 5))) == expected


def test_seed_conv_written_in_python_is_the_yaml_spec() -> None:
    """The same layer from the Python classes: ``netspec.layers.Conv2d(...)``."""
    layer = netspec.layers.Conv2d(out_channels=3, kernel_size=(4, 5), stride=1, name="filters")
    spec = netspec.Spec(name="seed_conv", input=(1, 28, 28), layers=(layer,))
    assert spec == netspec.load(SPECS / "seed_conv.yaml")


def test_seed_conv_output_shrinks_by_kernel_minus_one() -> None:
    spec = netspec.load(SPECS / "seed_conv.yaml")
    expected = (3, 28 - 4 + 1, 28 - 5 + 1)  # (n_h - k_h + 1) x (n_w - k_w + 1)
    assert netspec.analyze(spec).output_shape == expected
    assert torch_output_shape(netspec.build(spec), (1, 28, 28)) == expected


# --- output sizes: shrinking, padding, stride ---


def test_ten_unpadded_5x5_convolutions_take_240_to_200() -> None:
    spec = netspec.load(SPECS / "lecture_shrinking.yaml")
    assert spec.input == (1, 240, 240)
    assert len(spec.layers) == 10
    side = 240 - 10 * (5 - 1)  # each 5x5 convolution loses k - 1 = 4 pixels
    assert side == 200
    report = netspec.analyze(spec)
    assert report.output_shape == (8, 200, 200)
    assert [row.out_shape[1] for row in report.layers] == [240 - 4 * i for i in range(1, 11)]
    assert torch_output_shape(netspec.build(spec), (1, 240, 240)) == (8, 200, 200)


def test_kernel_2_padding_1_on_3x3_gives_4x4() -> None:
    spec = one_layer([1, 3, 3], "Conv2d", out_channels=1, kernel_size=2, padding=1)
    side = (3 + 2 * 1 - 2) // 1 + 1  # (n + 2p - k) / s + 1; the lecture's n - k + p_total + 1
    assert side == 4
    assert netspec.analyze(spec).output_shape == (1, 4, 4)
    assert torch_output_shape(netspec.build(spec), (1, 3, 3)) == (1, 4, 4)


@pytest.mark.parametrize("kernel", [1, 3, 5, 7, 9])
def test_odd_kernel_with_half_padding_keeps_the_size(kernel: int) -> None:
    padding = (kernel - 1) // 2
    spec = one_layer([4, 17, 20], "Conv2d", out_channels=4, kernel_size=kernel, padding=padding)
    # n + 2 (k - 1) / 2 - k + 1 = n
    assert netspec.analyze(spec).output_shape == (4, 17, 20)
    assert torch_output_shape(netspec.build(spec), (4, 17, 20)) == (4, 17, 20)


def test_even_kernel_cannot_keep_the_size_with_symmetric_padding() -> None:
    """Why odd kernels: with k = 4 the symmetric paddings give n - 1 or n + 1, never n:
    16 + 2*1 - 4 + 1 = 15 and 16 + 2*2 - 4 + 1 = 17 (and padding 0 or 3 moves further)."""
    for padding, side in [(0, 13), (1, 15), (2, 17), (3, 19)]:
        spec = one_layer([1, 16, 16], "Conv2d", out_channels=1, kernel_size=4, padding=padding)
        assert netspec.analyze(spec).output_shape == (1, side, side)
        assert torch_output_shape(netspec.build(spec), (1, 16, 16)) == (1, side, side)


@pytest.mark.parametrize(("side", "halved"), [(32, 16), (31, 16), (224, 112)])
def test_stride_2_halves_the_size(side: int, halved: int) -> None:
    spec = one_layer([3, side, side], "Conv2d", out_channels=8, kernel_size=3, stride=2, padding=1)
    assert (side + 2 * 1 - 3) // 2 + 1 == halved
    assert netspec.analyze(spec).output_shape == (8, halved, halved)
    assert torch_output_shape(netspec.build(spec), (3, side, side)) == (8, halved, halved)


def test_stride_cuts_the_work_of_the_next_layers() -> None:
    """The lecture's point about ResNet's strided stem: stride 2 quarters the next layer's MACs."""
    layers = [
        {"Conv2d": {"out_channels": 16, "kernel_size": 3, "padding": 1, "stride": stride}}
        for stride in (1, 2)
    ]
    follow = {"Conv2d": {"out_channels": 16, "kernel_size": 3, "padding": 1}}
    plain = netspec.analyze(netspec.load({"input": [3, 64, 64], "layers": [layers[0], follow]}))
    strided = netspec.analyze(netspec.load({"input": [3, 64, 64], "layers": [layers[1], follow]}))
    per_position = 16 * 16 * 3 * 3  # 16 outputs, each 16*3*3 products (the bias is no product)
    assert plain.layers[1].macs == per_position * 64 * 64
    assert strided.layers[1].macs == per_position * 32 * 32


# --- 1x1 convolutions change the channels only ---


def test_1x1_convolution_changes_channels_only() -> None:
    spec = one_layer([64, 13, 17], "Conv2d", out_channels=32, kernel_size=1)
    report = netspec.analyze(spec)
    assert report.output_shape == (32, 13, 17)
    assert report.params == 64 * 32 + 32  # a per-pixel fully connected layer: in x out + bias
    assert [axis.size for axis in report.rf] == [1, 1]  # sees one pixel: no spatial mixing
    model = netspec.build(spec)
    assert torch_output_shape(model, (64, 13, 17)) == (32, 13, 17)
    assert numel(model) == 64 * 32 + 32


def test_nin_uses_1x1_convolutions_to_mix_channels() -> None:
    spec = netspec.load(SPECS / "nin.yaml")
    report = netspec.analyze(spec)
    pointwise = [
        index for index, layer in enumerate(spec.layers)
        if layer.kind == "Conv2d" and layer.kernel_size == 1
    ]
    assert len(pointwise) == 8  # two per NiN block, four blocks
    # The field each block's k x k convolution reaches, by hand (r += (k-1) j, j *= s): 11/4
    # conv: 11, jump 4; pool 3/2: 11 + 2*4 = 19, jump 8; 5x5: 19 + 4*8 = 51; pool:
    # 51 + 2*8 = 67, jump 16; 3x3: 67 + 2*16 = 99; pool: 99 + 2*16 = 131, jump 32;
    # 3x3: 131 + 2*32 = 195. The 1x1 convolutions after each keep it: no spatial mixing.
    sizes = [11, 11, 51, 51, 99, 99, 195, 195]
    jumps = [4, 4, 8, 8, 16, 16, 32, 32]
    for index, size, jump in zip(pointwise, sizes, jumps, strict=True):
        row = report.layers[index]
        assert row.out_shape[1:] == row.in_shape[1:]
        assert [(axis.size, axis.jump) for axis in row.rf] == [(size, jump)] * 2


# --- three 3x3 against one 7x7 ---

C = 64


def test_three_3x3_convolutions_see_7x7_like_one_7x7() -> None:
    stack = netspec.analyze(netspec.load(SPECS / "receptive_field.yaml"))
    single = netspec.analyze(netspec.load(SPECS / "receptive_field_7x7.yaml"))
    assert [row.rf[0].size for row in stack.layers] == [3, 5, 7]  # 1 + 2, + 2, + 2
    assert [axis.size for axis in stack.rf] == [1 + 2 + 2 + 2] * 2
    assert [axis.size for axis in single.rf] == [7, 7]
    assert [axis.jump for axis in stack.rf] == [axis.jump for axis in single.rf] == [1, 1]
    assert stack.output_shape == single.output_shape == (C, 32, 32)


def test_three_3x3_convolutions_cost_27_c2_against_49_c2() -> None:
    stack_spec = netspec.load(SPECS / "receptive_field.yaml")
    single_spec = netspec.load(SPECS / "receptive_field_7x7.yaml")
    assert stack_spec.input[0] == single_spec.input[0] == C
    stack_weights = 3 * (3 * 3) * C * C  # 27 C^2
    single_weights = 7 * 7 * C * C  # 49 C^2
    assert (stack_weights, single_weights) == (110_592, 200_704)
    assert netspec.analyze(stack_spec).params == stack_weights
    assert netspec.analyze(single_spec).params == single_weights
    assert numel(netspec.build(stack_spec)) == stack_weights
    assert numel(netspec.build(single_spec)) == single_weights
    torch_stack = nn.Sequential(*(nn.Conv2d(C, C, 3, padding=1, bias=False) for _ in range(3)))
    assert numel(torch_stack) == stack_weights
    assert numel(nn.Conv2d(C, C, 7, padding=3, bias=False)) == single_weights


# --- pooling, dropout, batch norm ---


def test_2x2_pooling_halves_the_map_and_has_no_parameters() -> None:
    for kind in ("MaxPool2d", "AvgPool2d"):
        spec = one_layer([6, 28, 28], kind, kernel_size=2, stride=2)
        report = netspec.analyze(spec)
        assert report.output_shape == (6, 14, 14)
        assert report.params == 0
        assert torch_output_shape(netspec.build(spec), (6, 28, 28)) == (6, 14, 14)


def test_dropout_drops_only_while_training() -> None:
    spec = netspec.load({"input": [1000], "layers": [{"Dropout": {"p": 0.5}}]})
    report = netspec.analyze(spec)
    assert report.output_shape == (1000,)
    assert report.params == 0
    model = netspec.build(spec)
    x = torch.ones(1, 1000)
    torch.manual_seed(0)
    trained = model.train()(x)
    assert set(trained.unique().tolist()) == {0.0, 2.0}  # kept units scaled by 1 / (1 - p)
    assert torch.equal(model.eval()(x), x)


def test_batchnorm_between_convolution_and_activation() -> None:
    """CONV -> BatchNorm -> ReLU: the norm has 2C trained parameters and 2C running statistics."""
    spec = netspec.load({
        "input": [3, 16, 16],
        "layers": [
            {"Conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False}},
            "BatchNorm2d",
            "ReLU",
        ],
    })
    conv, norm, relu = netspec.analyze(spec).layers
    assert conv.params == 8 * 3 * 3 * 3
    assert (norm.trainable_params, norm.non_trainable_params) == (2 * 8, 0)  # weight, bias
    assert norm.buffers == 2 * 8 + 1  # running mean and variance, and the batch count
    assert norm.buffers == sum(b.numel() for b in netspec.build(spec)[1].buffers())
    assert relu.params == 0
    assert norm.out_shape == relu.out_shape == (8, 16, 16)
