"""Receptive fields through ``Residual`` and ``Parallel``, confirmed empirically.

Method: build the spec in float64, give every convolution positive weights (``1 / fan_in``) and
zero bias, replace batch norms, activations and dropout by ``Identity`` and max pools by average
pools of the same window. The network is then a linear map with positive coefficients, so the
gradient of one output unit with respect to an all-ones input is non-zero exactly where the unit
reads the input. Where paths merge (a residual's body and shortcut, parallel branches), the
support is the union of the paths' windows, which are centred alike: the widest one.

The expected field of each spec is worked out by hand in its comment (``k_eff = d (k - 1) + 1``,
``r += (k_eff - 1) j``, ``j *= s``, ``start += ((k_eff - 1) / 2 - p) j``); the test asserts the
analysis gives it, then that the gradient support of the centre unit, the corner unit and the
far corner unit, after every top-level layer, is the analysed window of that unit per axis:
centre ``start + i * jump``, extent ``size``, clipped to the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest
import torch
from torch import nn

import netspec
from netspec.core.shapes import AxisRF


@dataclass(frozen=True)
class Case:
    name: str
    spec: dict[str, Any]
    rf: tuple[int, int, int]  # (size, jump, start) on every spatial axis, by hand
    full_box: bool = True  # the support fills the per-axis box (False: a cross, say)


def conv(rank: int, out: int, k: Any, s: int = 1, p: Any = 0, d: int = 1) -> dict[str, Any]:
    args: dict[str, Any] = {"out_channels": out, "kernel_size": k, "stride": s, "padding": p}
    if d > 1:
        args["dilation"] = d
    return {f"Conv{rank}d": args}


def conv2(out: int, k: Any, s: int = 1, p: Any = 0, d: int = 1) -> dict[str, Any]:
    return conv(2, out, k, s, p, d)


CASES = [
    # Two ResNet basic blocks. Block 1: body 3x3/2 p1 -> (3, 2, 0), 3x3 p1 -> 3 + 2*2 = 7;
    # auto shortcut 1x1/2 -> (1, 2, 0); merged (7, 2, 0). Block 2 (identity): 7 + 4 + 4 = 15.
    Case("resnet_blocks", {"input": [2, 20, 20], "layers": [
        {"Residual": {"body": [conv2(4, 3, 2, 1), "BatchNorm2d", "ReLU", conv2(4, 3, 1, 1),
                               "BatchNorm2d"], "post": ["ReLU"]}},
        {"Residual": {"body": [conv2(4, 3, 1, 1), "BatchNorm2d", "ReLU", conv2(4, 3, 1, 1),
                               "BatchNorm2d"], "shortcut": "identity", "post": ["ReLU"]}},
    ]}, (15, 2, 0)),
    # Stem 3x3/2 p1 -> (3, 2, 0); inception branches 1x1 -> 3, 1x1 3x3 -> 3 + 2*2 = 7,
    # 1x1 5x5 -> 3 + 4*2 = 11, pool 3x3/1 1x1 -> 7: the widest, 11, jump 2, centre 0.
    Case("inception", {"input": [3, 17, 17], "layers": [
        conv2(4, 3, 2, 1),
        {"Parallel": {"branches": [
            [conv2(2, 1)],
            [conv2(2, 1), "ReLU", conv2(3, 3, 1, 1)],
            [conv2(1, 1), conv2(2, 5, 1, 2)],
            [{"MaxPool2d": {"kernel_size": 3, "stride": 1, "padding": 1}}, conv2(2, 1)],
        ]}},
    ]}, (11, 2, 0)),
    # Stem (3, 2, 0). Residual (identity) around: Parallel add of 3x3 p1 and 5x5 p2 ->
    # max(3 + 4, 3 + 8) = 11; a nested identity Residual of a 3x3 dilation 2 (k_eff 5) ->
    # 11 + 4*2 = 19. Then an auto Residual 3x3/2 p1, 3x3 p1: 19 + 2*2 + 2*4 = 31, jump 4.
    Case("nested", {"input": [2, 31, 31], "layers": [
        conv2(3, 3, 2, 1),
        {"Residual": {"shortcut": "identity", "post": ["ReLU"], "body": [
            {"Parallel": {"merge": "add", "branches": [[conv2(3, 3, 1, 1)],
                                                       [conv2(3, 5, 1, 2)]]}},
            "ReLU",
            {"Residual": {"shortcut": "identity", "body": [conv2(3, 3, 1, 2, d=2)]}},
        ]}},
        {"Residual": {"body": [conv2(5, 3, 2, 1), "ReLU", conv2(5, 3, 1, 1)]}},
    ]}, (31, 4, 0)),
    # Inception-v3 style 1x7 and 7x1 branches: 7 per axis, but the support is a cross.
    Case("asymmetric", {"input": [1, 15, 15], "layers": [
        {"Parallel": {"branches": [[conv2(1, [1, 7], 1, [0, 3])], [conv2(1, [7, 1], 1, [3, 0])],
                                   [conv2(1, 1)]]}},
    ]}, (7, 1, 0), full_box=False),
    # 1-D: 7/2 p3 -> (7, 2, 0); identity Residual of two 3 p1 -> 7 + 4 + 4 = 15;
    # Parallel concat of 1/2 (15) and 3/2 p1 (15 + 2*2 = 19) -> (19, 4, 0).
    Case("one_d", {"input": [2, 32], "layers": [
        conv(1, 3, 7, 2, 3),
        {"Residual": {"shortcut": "identity",
                      "body": [conv(1, 3, 3, 1, 1), "ReLU", conv(1, 3, 3, 1, 1)]}},
        {"Parallel": {"branches": [[conv(1, 2, 1, 2)], [conv(1, 2, 3, 2, 1)]]}},
    ]}, (19, 4, 0)),
    # 3-D: auto Residual 3/2 p1, 3 p1 -> 3 + 2*2 = 7, jump 2; projection 1x1x1/2 -> 1.
    Case("three_d", {"input": [1, 9, 9, 9], "layers": [
        {"Residual": {"body": [conv(3, 2, 3, 2, 1), "BatchNorm3d", conv(3, 2, 3, 1, 1)]}},
    ]}, (7, 2, 0)),
]


# --- the positive linear stand-in ---


def positive_linear(module: nn.Module) -> nn.Module:
    """Convolutions with weights 1/fan_in and no bias; pointwise layers -> Identity; max pools ->
    average pools over the same windows. Containers keep their structure."""
    if isinstance(module, nn.modules.conv._ConvNd):
        with torch.no_grad():
            module.weight.fill_(1.0 / module.weight[0].numel())
            if module.bias is not None:
                module.bias.zero_()
        return module
    if isinstance(module, nn.modules.pooling._MaxPoolNd):
        assert module.dilation in (1, (1,) * len(str(module.dilation)))
        average = getattr(nn, type(module).__name__.replace("Max", "Avg"))
        return average(module.kernel_size, module.stride, module.padding, module.ceil_mode)
    if isinstance(module, nn.modules.pooling._AvgPoolNd):
        return module
    if next(module.children(), None) is not None:
        for name, child in list(module.named_children()):
            setattr(module, name, positive_linear(child))
        return module
    return nn.Identity()


def gradient_support(model: nn.Module, in_shape: tuple[int, ...], unit: tuple[int, ...]) -> Any:
    """Input positions on which output position ``unit`` depends, over all input and output
    channels (a concatenation puts each branch on its own channels)."""
    x = torch.ones(1, *in_shape, dtype=torch.float64, requires_grad=True)
    out = model(x)
    out[(0, slice(None), *unit)].sum().backward()
    assert x.grad is not None
    return x.grad[0].abs().sum(dim=0) > 0


def window(axis: AxisRF, index: int, n: int) -> tuple[int, int]:
    """The analysed window of unit ``index`` on one axis, clipped to ``[0, n - 1]``."""
    centre = axis.start + index * axis.jump
    half = (axis.size - 1) / 2
    return max(0, math.ceil(centre - half)), min(n - 1, math.floor(centre + half))


def units(out_spatial: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    return {
        "corner": tuple(0 for _ in out_spatial),
        "centre": tuple((m - 1) // 2 for m in out_spatial),
        "far": tuple(m - 1 for m in out_spatial),
    }


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_analysis_gives_the_hand_worked_field(case: Case) -> None:
    report = netspec.analyze(netspec.load(case.spec))
    size, jump, start = case.rf
    assert report.rf == tuple(AxisRF(Fraction(size), Fraction(jump), Fraction(start))
                              for _ in case.spec["input"][1:])


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_gradient_support_is_the_analysed_window(case: Case) -> None:
    in_shape = tuple(case.spec["input"])
    report = netspec.analyze(netspec.load(case.spec))
    model = positive_linear(netspec.build(case.spec, dtype=torch.float64)).eval()
    top = report.top_level()
    assert len(top) == len(model)
    checked = 0
    for depth, row in enumerate(top):
        prefix = nn.Sequential(*list(model)[: depth + 1])
        for label, unit in units(row.out_shape[1:]).items():
            support = gradient_support(prefix, in_shape, unit)
            boxes = [window(axis, i, n) for axis, i, n in
                     zip(row.rf, unit, in_shape[1:], strict=True)]
            for axis, (lo, hi) in enumerate(boxes):
                others = tuple(d for d in range(support.dim()) if d != axis)
                seen = support.any(dim=others) if others else support
                where = torch.nonzero(seen).flatten().tolist()
                assert where == list(range(lo, hi + 1)), (row.path, label, axis, where, lo, hi)
            if case.full_box:
                assert int(support.sum()) == math.prod(hi - lo + 1 for lo, hi in boxes), (
                    row.path, label)
            checked += 1
    assert checked == 3 * len(top)


def test_cross_support_of_asymmetric_branches() -> None:
    """The 1x7 / 7x1 case really is a cross, not a 7x7 box: 7 + 7 - 1 = 13 pixels."""
    case = next(case for case in CASES if case.name == "asymmetric")
    model = positive_linear(netspec.build(case.spec, dtype=torch.float64))
    support = gradient_support(model, (1, 15, 15), (7, 7))
    assert int(support.sum()) == 13
    assert support[7, 4:11].all() and support[4:11, 7].all()


# --- hand-worked fields and misaligned merges ---


def test_residual_of_two_3x3_convs_has_field_5() -> None:
    """Body: 3x3 p1 -> 3, then 3 + 2 = 5; identity shortcut: 1; the block: max(5, 1) = 5."""
    spec = netspec.load({"input": [1, 9, 9], "layers": [
        {"Residual": {"shortcut": "identity", "body": [conv2(1, 3, 1, 1), conv2(1, 3, 1, 1)]}},
    ]})
    assert netspec.analyze(spec).rf == (AxisRF(Fraction(5)), AxisRF(Fraction(5)))


def misaligned(text: str) -> netspec.SpecError:
    with pytest.raises(netspec.SpecError) as caught:
        netspec.load(text)
    return caught.value


def same_output_shape(spec_layers: list[list[dict[str, Any]]], in_shape: tuple[int, ...]) -> bool:
    """torch itself runs both paths to the same shape: the misalignment is not a shape error."""
    x = torch.randn(1, *in_shape)
    shapes = set()
    for layers in spec_layers:
        model = netspec.build({"input": list(in_shape), "layers": layers})
        shapes.add(tuple(model(x).shape))
    return len(shapes) == 1


def test_parallel_of_shape_compatible_but_misaligned_branches_is_an_error() -> None:
    """3x3/2 p1 and 2x2/2 p0 both halve 8 to 4, but unit 0 is centred at 0 for the first
    (0 + (1 - 1)) and at 1/2 for the second (0 + (1/2 - 0)): concatenating them would mix
    windows half a pixel apart."""
    a, b = conv2(2, 3, 2, 1), conv2(2, 2, 2, 0)
    assert same_output_shape([[a], [b]], (1, 8, 8))
    error = misaligned("""\
input: [1, 8, 8]
layers:
  - ReLU
  - Parallel:
      branches:
        - [{Conv2d: {out_channels: 2, kernel_size: 3, stride: 2, padding: 1}}]
        - [{Conv2d: {out_channels: 2, kernel_size: 2, stride: 2}}]
""")
    (problem,) = error.problems
    assert problem.line == 4
    assert "misaligned" in problem.message
    assert "branches[1]" in problem.message
    assert "1/2" in problem.message  # the misaligned centre


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_parallel_with_even_same_padding_is_misaligned() -> None:
    """``padding: same`` with kernel 2 puts the extra pixel on the right: centre 1/2, not 0."""
    a, b = conv2(2, 3, 1, 1), conv2(2, 2, 1, "same")
    assert same_output_shape([[a], [b]], (1, 6, 6))
    error = misaligned("""\
input: [1, 6, 6]
layers:
  - Parallel:
      merge: add
      branches:
        - [{Conv2d: {out_channels: 2, kernel_size: 3, padding: 1}}]
        - [{Conv2d: {out_channels: 2, kernel_size: 2, padding: same}}]
""")
    (problem,) = error.problems
    assert problem.line == 3
    assert "branches[1]" in problem.message


def test_residual_with_a_pooled_shortcut_is_misaligned() -> None:
    """ResNet-D's shortcut (2x2/2 average pool, then 1x1) is centred at 1/2 while the body's
    3x3/2 p1 is centred at 0: the shortcut is named."""
    body = [conv2(4, 3, 2, 1)]
    cut = [{"AvgPool2d": {"kernel_size": 2, "stride": 2}}, conv2(4, 1)]
    assert same_output_shape([body, cut], (2, 8, 8))
    error = misaligned("""\
input: [2, 8, 8]
layers:
  - Residual:
      body: [{Conv2d: {out_channels: 4, kernel_size: 3, stride: 2, padding: 1}}]
      shortcut:
        - AvgPool2d: {kernel_size: 2, stride: 2}
        - Conv2d: {out_channels: 4, kernel_size: 1}
""")
    (problem,) = error.problems
    assert problem.line == 3
    assert "shortcut" in problem.message and "misaligned" in problem.message


ONE_PIXEL_STRIDED = """\
input: [8, 1, 1]
layers:
  - Residual:
      shortcut: {shortcut}
      body:
        - Conv2d: {{out_channels: 8, kernel_size: 3, stride: 2, padding: 1}}
"""


def test_auto_projects_a_strided_body_even_where_the_shape_is_kept() -> None:
    """torchvision's BasicBlock projects whenever stride != 1. On a 1x1 map a stride-2 body
    keeps the shape; `auto` took that for identity, and the fields then disagreed on the jump
    (an error for a block torch runs). By hand: body 8*8*3*3 + 8 = 584, projection 8*8 = 64 and
    its batch norm 2*8 = 16."""
    spec = netspec.load(ONE_PIXEL_STRIDED.format(shortcut="auto"))
    assert netspec.analyze(spec).params == 584 + 64 + 16
    shortcut = netspec.build(spec)[0].shortcut
    assert isinstance(shortcut[0], nn.Conv2d) and shortcut[0].stride == (2, 2)
    assert isinstance(shortcut[1], nn.BatchNorm2d)


def test_if_same_has_no_shortcut_for_a_strided_body_even_where_the_shape_is_kept() -> None:
    """MobileNetV2 adds the input only when stride == 1 and channels match."""
    spec = netspec.load(ONE_PIXEL_STRIDED.format(shortcut="if_same"))
    assert netspec.analyze(spec).params == 584
    block = netspec.build(spec)[0]
    assert block.shortcut is None
    x = torch.randn(2, 8, 1, 1)
    torch.testing.assert_close(block(x), block.body(x))
