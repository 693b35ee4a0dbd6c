"""Fixed examples, one or more per argument that changes a formula, beside the property tests.

The property tests (``test_conv.py``, ``test_pool.py``) draw arguments at random; a formula that
ignores one argument can survive the draws. Each example here is chosen so that the argument
matters: torch's own module with the argument reset to its default gives a different answer
(asserted), netspec gives torch's answer with it (``assert_matches_torch``: shape, parameters,
buffers, MACs), and the expected numbers are worked out by hand in each id.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch

import netspec
from netspec.layers.registry import kind_of
from tests.gradient_support import confirm_windows
from tests.torch_check import assert_matches_torch, assert_same_verdict, torch_module

CASES = [
    # (kind, arguments, input, expected output, the argument, its default)
    pytest.param("AvgPool2d", {"kernel_size": 2, "ceil_mode": True}, (1, 7, 8), (1, 4, 4),
                 "ceil_mode", False, id="AvgPool2d k2 ceil on 7: ceil(5/2)+1 = 4, floor 3"),
    pytest.param("AvgPool1d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                 (2, 6), (2, 4), "ceil_mode", False,
                 id="AvgPool1d k3 s2 p1 ceil on 6: ceil(5/2)+1 = 4, 3*2 < 6+1 kept; floor 3"),
    pytest.param("AvgPool3d", {"kernel_size": 2, "ceil_mode": True}, (1, 3, 4, 5), (1, 2, 2, 3),
                 "ceil_mode", False, id="AvgPool3d k2 ceil on (3,4,5): (2,2,3), floor (1,2,2)"),
    pytest.param("MaxPool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True}, (1, 8, 8),
                 (1, 4, 4), "ceil_mode", False, id="MaxPool2d k3 s2 ceil on 8: ceil(5/2)+1 = 4"),
    pytest.param("MaxPool1d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                 (1, 8), (1, 5), "ceil_mode", False,
                 id="MaxPool1d k3 s2 p1 ceil on 8: ceil(7/2)+1 = 5, 4*2 < 8+1 kept; floor 4"),
    pytest.param("ConvTranspose1d", {"out_channels": 2, "kernel_size": 3, "stride": 2,
                                     "output_padding": 1}, (1, 5), (2, 12), "output_padding", 0,
                 id="ConvTranspose1d k3 s2 op1 on 5: 4*2 + 2 + 1 + 1 = 12"),
    pytest.param("ConvTranspose2d", {"out_channels": 1, "kernel_size": 3, "stride": [2, 3],
                                     "padding": 1, "output_padding": [1, 2]}, (1, 4, 4),
                 (1, 8, 12), "output_padding", 0,
                 id="ConvTranspose2d s(2,3) p1 op(1,2) on 4: 3*2-2+2+1+1 = 8, 3*3-2+2+2+1 = 12"),
    pytest.param("ConvTranspose3d", {"out_channels": 1, "kernel_size": 2, "stride": 2,
                                     "output_padding": [0, 1, 0]}, (1, 2, 2, 2), (1, 4, 5, 4),
                 "output_padding", 0, id="ConvTranspose3d k2 s2 op(0,1,0) on 2: 1*2+1+1 = 4, 5"),
    pytest.param("Conv1d", {"out_channels": 1, "kernel_size": 3, "dilation": 3}, (1, 10),
                 (1, 4), "dilation", 1, id="Conv1d k3 d3 on 10: k_eff 7, 10-7+1 = 4"),
    pytest.param("Conv2d", {"out_channels": 1, "kernel_size": 3, "dilation": [1, 2],
                            "padding": 1}, (1, 9, 9), (1, 9, 7), "dilation", 1,
                 id="Conv2d k3 p1 d(1,2) on 9: 9, 9+2-5+1 = 7"),
    pytest.param("ConvTranspose2d", {"out_channels": 1, "kernel_size": 3, "dilation": 2},
                 (1, 4, 4), (1, 8, 8), "dilation", 1,
                 id="ConvTranspose2d k3 d2 on 4: 3 + 2*2 + 1 = 8"),
    pytest.param("MaxPool2d", {"kernel_size": 2, "dilation": 2, "stride": 1}, (1, 6, 6),
                 (1, 4, 4), "dilation", 1, id="MaxPool2d k2 d2 s1 on 6: 6-3+1 = 4"),
    pytest.param("Conv2d", {"out_channels": 12, "kernel_size": 3, "groups": 4}, (8, 5, 5),
                 (12, 3, 3), "groups", 1,
                 id="Conv2d 8->12 k3 groups 4: 12*(8/4)*9 + 12 = 228 parameters"),
    pytest.param("ConvTranspose1d", {"out_channels": 6, "kernel_size": 2, "groups": 3},
                 (3, 4), (6, 5), "groups", 1,
                 id="ConvTranspose1d 3->6 k2 groups 3: 3*(6/3)*2 + 6 = 18 parameters"),
]

PARAMETERS = {"Conv2d 8->12 k3 groups 4": 228, "ConvTranspose1d 3->6 k2 groups 3": 18}


def plain_torch(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> tuple[Any, int]:
    """Output shape and parameter count of torch's module, built by hand (not by netspec)."""
    full = dict(args)
    if kind.startswith("Conv"):
        full["in_channels"] = in_shape[0]
    module = getattr(torch.nn, kind)(**full)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = module(torch.zeros(1, *in_shape))
    return tuple(out.shape[1:]), sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("kind", "args", "in_shape", "expected", "name", "default"), CASES)
def test_argument_changes_the_answer_and_netspec_follows(
    request: pytest.FixtureRequest, kind: str, args: dict[str, Any], in_shape: tuple[int, ...],
    expected: tuple[int, ...], name: str, default: object,
) -> None:
    layer = kind_of(kind).model_validate(args)
    assert layer.output_shape(in_shape) == expected
    assert_matches_torch(layer, in_shape)
    with_it = plain_torch(kind, args, in_shape)
    without = plain_torch(kind, {**args, name: default}, in_shape)
    assert with_it[0] == expected
    assert with_it != without, f"{name} does not matter in this example"
    for label, count in PARAMETERS.items():
        if request.node.callspec.id.startswith(label):
            assert layer.parameter_count(in_shape) == with_it[1] == count


def test_ceil_mode_last_window_starting_in_the_right_padding_is_dropped() -> None:
    """AvgPool2d k2 s2 p1 ceil on 5: ceil((5+2-2)/2)+1 = 4, but window 3 would start at
    3*2 = 6 >= 5+1, inside the right padding: torch drops it, 3."""
    layer = kind_of("AvgPool2d").model_validate({"kernel_size": 2, "stride": 2, "padding": 1,
                                                 "ceil_mode": True})
    assert layer.output_shape((1, 5, 5)) == (1, 3, 3)
    assert_matches_torch(layer, (1, 5, 5))


@pytest.mark.parametrize(
    ("mode", "padding", "size", "accepted"),
    [
        pytest.param("reflect", 3, 3, False, id="reflect pad 3 on 3: needs pad < n"),
        pytest.param("reflect", 3, 4, True, id="reflect pad 3 on 4"),
        pytest.param("circular", 3, 3, True, id="circular pad 3 on 3: pad <= n"),
        pytest.param("circular", 3, 2, False, id="circular pad 3 on 2"),
        pytest.param("replicate", 3, 1, True, id="replicate pad 3 on 1: no limit"),
        pytest.param("zeros", 3, 1, True, id="zeros pad 3 on 1"),
    ],
)
def test_padding_mode_limits(mode: str, padding: int, size: int, accepted: bool) -> None:
    args = {"out_channels": 1, "kernel_size": 3, "padding": padding, "padding_mode": mode}
    layer = kind_of("Conv1d").model_validate(args)
    if accepted:
        assert layer.output_shape((1, size)) == (1, size + 2 * padding - 2)
        assert_matches_torch(layer, (1, size))
    assert_same_verdict("Conv1d", args, (1, size))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_mode_reaches_the_built_module(mode: str) -> None:
    """The built convolution pads as torch's does: same weights, same output."""
    spec = netspec.load({"input": [1, 6], "layers": [
        {"Conv1d": {"out_channels": 1, "kernel_size": 3, "padding": 2, "padding_mode": mode}}]})
    (built,) = netspec.build(spec)
    reference = torch.nn.Conv1d(1, 1, 3, padding=2, padding_mode=mode)
    reference.load_state_dict(built.state_dict())
    x = torch.arange(6.0).reshape(1, 1, 6)
    zeros = torch.nn.Conv1d(1, 1, 3, padding=2)
    zeros.load_state_dict(built.state_dict())
    with torch.no_grad():
        assert torch.equal(built(x), reference(x))
        assert not torch.equal(built(x), zeros(x))


@pytest.mark.parametrize(("include", "corner"), [(True, 4 / 9), (False, 4 / 4)])
def test_count_include_pad_reaches_the_built_module(include: bool, corner: float) -> None:
    """AvgPool2d k3 s1 p1 on ones: the corner window holds 4 ones and 5 zeros of padding, so
    its mean is 4/9 counting the padding, 4/4 without."""
    spec = netspec.load({"input": [1, 4, 4], "layers": [
        {"AvgPool2d": {"kernel_size": 3, "stride": 1, "padding": 1,
                       "count_include_pad": include}}]})
    model = netspec.build(spec)
    reference = torch_module(kind_of("AvgPool2d").model_validate(
        {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": include}), (1, 4, 4))
    x = torch.ones(1, 1, 4, 4)
    with torch.no_grad():
        out = model(x)
        assert torch.equal(out, reference(x))
    assert out[0, 0, 0, 0].item() == pytest.approx(corner)
    assert out[0, 0, 1, 1].item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("layer", "field"),
    [
        pytest.param({"Conv2d": {"out_channels": 1, "kernel_size": 3, "dilation": 3}},
                     (7, 1, 3), id="dilation 3: k_eff 7"),
        pytest.param({"MaxPool2d": {"kernel_size": 3, "stride": 2, "ceil_mode": True}},
                     (3, 2, 1), id="ceil pool k3 s2"),
        pytest.param({"MaxPool2d": {"kernel_size": 2, "dilation": 2, "padding": 1}},
                     (3, 2, 0), id="dilated pool k2 d2 p1: k_eff 3, start 1 - 1"),
    ],
)
def test_formula_arguments_in_the_receptive_field(
    layer: dict[str, Any], field: tuple[int, int, int]
) -> None:
    """Hand-worked ``(size, jump, start)``, and the gradient support agrees."""
    spec = netspec.load({"input": [1, 13, 13], "layers": [layer]})
    rf = netspec.analyze(spec).rf
    assert [(a.size, a.jump, a.start) for a in rf] == [field] * 2
    confirm_windows(spec)


def test_pool_refusals_are_located_at_the_kernel_and_say_why() -> None:
    """Written out by hand: floor((2 - 3) / 1) + 1 = 0 output positions on each axis."""
    cases = [
        ({"MaxPool2d": {"kernel_size": 3}}, [1, 2, 2],
         "MaxPool2d output would be [1, 0, 0]: the input [1, 2, 2] is too small for "
         "kernel_size=3, stride=None, padding=0, dilation=1, ceil_mode=False"),
        ({"AvgPool3d": {"kernel_size": 3, "padding": 1}}, [1, 2, 4, 4],
         "AvgPool3d needs an input at least as large as the kernel on every axis, padding "
         "aside; received input [1, 2, 4, 4], kernel_size=3"),
    ]
    for layer, shape, message in cases:
        with pytest.raises(netspec.NetspecError) as caught:
            netspec.analyze(netspec.load({"input": shape, "layers": [layer]}))
        (problem,) = caught.value.problems
        assert problem.path == ("layers", 0, next(iter(layer)), "kernel_size")
        assert problem.message == message
