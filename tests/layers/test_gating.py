"""``Gate`` and ``Parallel`` with ``merge: mul``/``add``: torch's broadcasting, the modules built,
and the receptive field of gating (the union of both paths), confirmed by gradients."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import netspec
from netspec.core.errors import NetspecError
from tests.gradient_support import confirm_windows


def spec(shape: list[int], *layers: Any) -> netspec.Spec:
    return netspec.load({"name": "gating", "input": shape, "layers": list(layers)})


def se_gate(channels: int, squeeze: int) -> dict[str, Any]:
    return {"Gate": {"layers": [
        {"AdaptiveAvgPool2d": {"output_size": 1}},
        {"Conv2d": {"out_channels": squeeze, "kernel_size": 1}},
        "ReLU",
        {"Conv2d": {"out_channels": channels, "kernel_size": 1}},
        "Sigmoid",
    ]}}


def test_gate_is_x_times_the_gate_with_the_gates_parameters() -> None:
    s = spec([8, 5, 5], se_gate(8, 2))
    model = netspec.build(s).eval()
    gate = model[0].gate
    assert type(model[0]).__name__ == "Gate" and [name for name, _ in model[0].named_children()] \
        == ["gate"]
    x = torch.randn(3, 8, 5, 5)
    with torch.no_grad():
        assert torch.allclose(model(x), x * gate(x))
    row = netspec.analyze(s).layers[0]
    assert row.out_shape == (8, 5, 5)
    # two 1x1 convolutions with bias: 8*2 + 2 and 2*8 + 8
    assert row.params == (8 * 2 + 2) + (2 * 8 + 8) == sum(p.numel() for p in model.parameters())
    alone = netspec.analyze(spec([8, 5, 5], {"Sequential": {"layers": se_gate(8, 2)["Gate"][
        "layers"]}})).layers[0]
    assert row.macs == alone.macs  # the product itself is elementwise: no MACs of its own


@pytest.mark.parametrize("gate_shape", [[8, 1, 1], [1, 5, 5], [1, 1, 1], [8, 5, 5], [8, 1, 5]])
def test_gate_broadcasts_as_torch(gate_shape: list[int]) -> None:
    pools = [{"AdaptiveAvgPool2d": {"output_size": [gate_shape[1], gate_shape[2]]}}]
    if gate_shape[0] == 1:
        pools.append({"Conv2d": {"out_channels": 1, "kernel_size": 1}})
    s = spec([8, 5, 5], {"Gate": {"layers": pools}})
    model = netspec.build(s)
    x = torch.randn(2, 8, 5, 5)
    assert tuple(model[0].gate(x).shape[1:]) == tuple(gate_shape)
    assert tuple(model(x).shape[1:]) == netspec.analyze(s).output_shape == (8, 5, 5)


@pytest.mark.parametrize(
    ("gate", "gives"),
    [
        ([{"AdaptiveAvgPool2d": {"output_size": 2}}], "[8, 2, 2]"),
        ([{"Conv2d": {"out_channels": 3, "kernel_size": 1}}], "[3, 5, 5]"),
        ([{"AdaptiveAvgPool2d": {"output_size": 1}}, "Flatten"], "[8]"),
    ],
)
def test_a_gate_that_does_not_broadcast_is_a_located_error(gate: list[Any], gives: str) -> None:
    with pytest.raises(NetspecError) as caught:
        netspec.analyze(spec([8, 5, 5], "ReLU", {"Gate": {"layers": gate}}))
    (problem,) = caught.value.problems
    assert problem.path[:4] == ("layers", 1, "Gate", "layers")
    assert gives in problem.message and "[8, 5, 5]" in problem.message
    torch_gate = netspec.build(spec([8, 5, 5], *gate))
    with pytest.raises(RuntimeError):  # torch refuses the product too
        x = torch.randn(2, 8, 5, 5)
        _ = x * torch_gate(x)


def test_squeeze_excitation_sees_the_whole_input() -> None:
    """3x3 conv on 11x11: field 3, jump 1, 9x9 map. The gate pools the 9x9 map globally: every
    unit of the gate sees 3 + (9 - 1)*1 = 11 pixels, the whole input; so does each output unit
    (the union of its own 3x3 window and the gate's 11x11)."""
    s = spec([2, 11, 11], {"Conv2d": {"out_channels": 4, "kernel_size": 3}}, se_gate(4, 2))
    rf = netspec.analyze(s).rf
    assert [(axis.size, axis.positional) for axis in rf] == [(11, False)] * 2
    assert confirm_windows(s)


def test_a_spatial_gate_takes_the_wider_window() -> None:
    """x through a 3x3 conv (padding 1: field 3, start 0); the gate adds a 5x5 conv (padding 2)
    on top: 3 + (5-1)*1 = 7, same jump and centre, so the union is the gate's 7x7 window."""
    s = spec(
        [1, 12, 12],
        {"Conv2d": {"out_channels": 4, "kernel_size": 3, "padding": 1}},
        {"Gate": {"layers": [{"Conv2d": {"out_channels": 1, "kernel_size": 5, "padding": 2}},
                             "Sigmoid"]}},
        {"Conv2d": {"out_channels": 2, "kernel_size": 3, "padding": 1}},
    )
    rows = netspec.analyze(s).top_level()
    assert [(a.size, a.jump, a.start) for a in rows[1].rf] == [(7, 1, 0)] * 2
    assert [(a.size, a.jump, a.start) for a in rows[2].rf] == [(9, 1, 0)] * 2
    assert confirm_windows(s)


def test_a_misaligned_spatial_gate_is_an_error() -> None:
    """The gate's 3x3 conv without padding shifts its centre by 1: units would not line up."""
    with pytest.raises(NetspecError, match="misaligned"):
        netspec.analyze(spec([1, 12, 12], {"Gate": {"layers": [
            {"Conv2d": {"out_channels": 1, "kernel_size": 3}},
            {"Upsample": {"size": 12}}]}}))


# --- Parallel: merge mul and add, broadcast ---


def test_parallel_mul_is_the_product_of_the_branches() -> None:
    s = spec([4, 6, 6], {"Parallel": {"merge": "mul", "branches": [
        ["Identity"], [{"AdaptiveAvgPool2d": {"output_size": 1}}, "Sigmoid"]]}})
    model = netspec.build(s)
    x = torch.randn(2, 4, 6, 6)
    expected = x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True))
    assert torch.allclose(model(x), expected)
    assert netspec.analyze(s).output_shape == (4, 6, 6)


sizes = st.integers(1, 4)


@settings(max_examples=40, deadline=None)
@given(a=st.tuples(sizes, sizes), b=st.tuples(sizes, sizes), merge=st.sampled_from(["add", "mul"]))
def test_parallel_broadcasts_exactly_as_torch(
    a: tuple[int, int], b: tuple[int, int], merge: str
) -> None:
    """Two branches pooled to [3, *a] and [3, *b] from [3, 4, 4]: netspec's verdict and shape
    are torch's."""
    def branch(size: tuple[int, int]) -> list[Any]:
        return [{"AdaptiveAvgPool2d": {"output_size": list(size)}}]

    x = torch.randn(1, 3, 4, 4)
    left, right = nn.AdaptiveAvgPool2d(a)(x), nn.AdaptiveAvgPool2d(b)(x)
    try:
        expected = tuple((left + right if merge == "add" else left * right).shape[1:])
    except RuntimeError:
        expected = None
    s = {"input": [3, 4, 4], "layers": [{"Parallel": {"merge": merge, "branches": [
        branch(a), branch(b)]}}]}
    try:
        got = netspec.analyze(netspec.load(s)).output_shape
    except NetspecError as error:
        assert expected is None, error
        assert f"{[3, *a]}" in str(error) and f"{[3, *b]}" in str(error)
        return
    assert got == expected
    assert tuple(netspec.build(s)(x).shape[1:]) == expected


def test_a_branch_broadcast_along_an_axis_makes_it_whole() -> None:
    """A branch pooled to one row is read by every row: H is no longer positional."""
    s = spec([1, 6, 6], {"Parallel": {"merge": "add", "branches": [
        [{"Conv2d": {"out_channels": 2, "kernel_size": 3, "padding": 1}}],
        [{"AdaptiveAvgPool2d": {"output_size": [1, None]}}]]}})
    (height, width) = netspec.analyze(s).rf
    assert not height.positional and height.size == 6
    assert width.positional and (width.size, width.jump, width.start) == (3, 1, Fraction(0))


@pytest.mark.parametrize(("stride", "projection"), [(1, None), (2, (2, 2))])
def test_a_residual_body_ending_in_a_gate_keeps_its_stride(
    stride: int, projection: tuple[int, int] | None
) -> None:
    """The gate sees the whole input, but its units keep the body's spacing: the shortcut is the
    identity for a stride-1 body and a stride-2 projection for a stride-2 body."""
    s = spec([8, 6, 6], {"Residual": {"body": [
        {"Conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1, "stride": stride}},
        se_gate(8, 2)]}})
    shortcut = netspec.build(s)[0].shortcut
    if projection is None:
        assert isinstance(shortcut, nn.Identity)
    else:
        assert shortcut[0].stride == projection
