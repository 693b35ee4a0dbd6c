"""``netspec.from_module``: a built model back to its spec.

The property: for a random spec (drawn in its shortest form, sometimes asserting inferred
arguments), ``from_module(build(spec))`` is the same spec without the inferred arguments. Every
bundled spec comes back as a spec that builds the identical module (class, attributes,
parameter and buffer shapes, names), and that spec is a fixed point. Unsupported modules and
modules no spec can reproduce are errors that name the module.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import netspec
from netspec.torch_side.modules import Parallel, Residual
from netspec.torch_side.roundtrip import signature

SPECS = sorted((Path(__file__).resolve().parents[2] / "specs").glob("*.yaml"))


def round_trip(spec: netspec.Spec, *, device: str = "meta") -> netspec.Spec:
    model = netspec.build(spec, device=device)
    return netspec.from_module(model, spec.input, name=spec.name)


# --- the property: random specs in their shortest form come back unchanged ---


class Draw:
    """Draws spec entries in their shortest form, tracking one sample's shape [C, H, W]."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.names = itertools.count()

    def pick(self, *options: Any) -> Any:
        return self.draw(st.sampled_from(options))

    def maybe(self, args: dict[str, Any], key: str, *values: Any) -> None:
        """Write ``key`` with one of ``values`` (never its default), or leave it out."""
        if self.draw(st.booleans()):
            args[key] = self.pick(*values)

    def named(self, args: dict[str, Any]) -> None:
        if self.draw(st.integers(0, 3)) == 0:
            args["name"] = f"layer{next(self.names)}"

    def layers(self, shape: tuple[int, ...], count: int, depth: int
               ) -> tuple[list[Any], list[Any], tuple[int, ...]]:
        """``count`` entries: (as written, as expected back, output shape)."""
        written: list[Any] = []
        expected: list[Any] = []
        for _ in range(count):
            choice = self.pick("conv", "norm", "act", "pool", "dropout", "composite")
            if choice == "composite" and depth >= 2:
                choice = "conv"
            entry = getattr(self, choice)(shape, depth)
            if entry is None:
                continue
            entry_written, entry_expected, shape = entry
            written.append(entry_written)
            expected.append(entry_expected)
        return written, expected, shape

    def conv(self, shape: tuple[int, ...], depth: int) -> Any:
        channels, height, width = shape
        args: dict[str, Any] = {"out_channels": self.draw(st.integers(1, 6)),
                                "kernel_size": self.pick(1, 3, [1, 3], [3, 1])}
        kernel = args["kernel_size"]
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        stride = self.pick(1, 1, 2)
        if stride != 1:
            args["stride"] = stride
        padding = self.pick(0, 1, "same") if stride == 1 else self.pick(0, 1)
        if padding:
            args["padding"] = padding
        self.maybe(args, "bias", False)
        self.maybe(args, "padding_mode", "reflect", "replicate")
        self.trainable(args)
        self.named(args)
        if padding == "same":
            out = (args["out_channels"], height, width)
        else:
            pad = padding or 0
            out = (args["out_channels"], (height + 2 * pad - kh) // stride + 1,
                   (width + 2 * pad - kw) // stride + 1)
        if min(out[1:]) < 1 or (args.get("padding_mode", "zeros") != "zeros" and padding and
                                min(height, width) <= 1):
            return None
        written = dict(args)
        if self.draw(st.booleans()):
            written["in_channels"] = channels  # an assertion: not read back
        return {"Conv2d": written}, {"Conv2d": args}, out

    def norm(self, shape: tuple[int, ...], depth: int) -> Any:
        channels, height, width = shape
        if self.draw(st.booleans()) and channels * height * width > 1:
            args: dict[str, Any] = {"num_groups": self.pick(1, channels)}
            if channels // args["num_groups"] * height * width <= 1:
                return None
            self.maybe(args, "affine", False)
            self.maybe(args, "eps", 0.001)
            return {"GroupNorm": args}, {"GroupNorm": args}, shape
        args = {}
        self.maybe(args, "momentum", None, 0.3)
        self.maybe(args, "affine", False)
        self.maybe(args, "track_running_stats", False)
        if args.get("affine", True):
            self.trainable(args)
        self.named(args)
        entry = {"BatchNorm2d": args} if args else "BatchNorm2d"
        return entry, entry, shape

    def act(self, shape: tuple[int, ...], depth: int) -> Any:
        kind, extra = self.pick(("ReLU", {"inplace": True}), ("ReLU", {}), ("Sigmoid", {}),
                                ("LeakyReLU", {"negative_slope": 0.2}), ("Identity", {}),
                                ("GELU", {"approximate": "tanh"}), ("Hardswish", {}))
        entry = {kind: extra} if extra else kind
        return entry, entry, shape

    def pool(self, shape: tuple[int, ...], depth: int) -> Any:
        channels, height, width = shape
        kind = self.pick("MaxPool2d", "AvgPool2d")
        kernel = self.pick(2, 3, [2, 1], [2, 2])
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        args: dict[str, Any] = {"kernel_size": kernel}
        stride = self.pick(None, 1)
        if stride is not None:
            args["stride"] = stride
        if kh == kw == 3 and self.draw(st.booleans()):
            args["padding"] = 1
        if kind == "AvgPool2d":
            self.maybe(args, "count_include_pad", False)
        pad = args.get("padding", 0)
        out = (channels, (height + 2 * pad - kh) // (stride or kh) + 1,
               (width + 2 * pad - kw) // (stride or kw) + 1)
        if min(out[1:]) < 1:
            return None
        return {kind: args}, {kind: args}, out

    def dropout(self, shape: tuple[int, ...], depth: int) -> Any:
        entry = self.pick("Dropout", {"Dropout": {"p": 0.1}}, {"Dropout2d": {"p": 0.2}})
        return entry, entry, shape

    def composite(self, shape: tuple[int, ...], depth: int) -> Any:
        return getattr(self, self.pick("residual", "parallel", "sequential"))(shape, depth)

    def residual(self, shape: tuple[int, ...], depth: int) -> Any:
        channels, height, width = shape
        out_channels = self.pick(channels, channels + 1)
        stride = self.pick(1, 2) if min(height, width) >= 2 else 1
        body: dict[str, Any] = {"out_channels": out_channels, "kernel_size": 3, "padding": 1}
        if stride != 1:
            body["stride"] = stride
        out = (out_channels, (height - 1) // stride + 1, (width - 1) // stride + 1)
        args: dict[str, Any] = {"body": [{"Conv2d": body}, "ReLU"]}
        if out != shape:
            cut = self.pick("auto", "if_same", "layers")
            if cut == "if_same":
                args["shortcut"] = "if_same"
            elif cut == "layers":  # not auto's projection: this one has a bias, no norm
                projection = {"out_channels": out_channels, "kernel_size": 1}
                if stride != 1:
                    projection["stride"] = stride
                args["shortcut"] = [{"Conv2d": projection}]
        if self.draw(st.booleans()):
            args["post"] = ["ReLU"]
        self.named(args)
        return {"Residual": args}, {"Residual": args}, out

    def parallel(self, shape: tuple[int, ...], depth: int) -> Any:
        merge = self.pick("concat", "add")
        width_each = self.draw(st.integers(1, 4))
        branches, total = [], 0
        for _ in range(self.pick(2, 3)):
            out_channels = width_each if merge == "add" else self.draw(st.integers(1, 4))
            kernel = self.pick(1, 3)
            conv: dict[str, Any] = {"out_channels": out_channels, "kernel_size": kernel}
            if kernel == 3:
                conv["padding"] = 1
            tail = self.pick([], [], ["ReLU"], ["BatchNorm2d", "ReLU"])
            branches.append([{"Conv2d": conv}, *tail])
            total += out_channels
        args: dict[str, Any] = {"branches": branches}
        if merge == "add":
            args["merge"] = "add"
        self.named(args)
        out = (width_each if merge == "add" else total, *shape[1:])
        return {"Parallel": args}, {"Parallel": args}, out

    def sequential(self, shape: tuple[int, ...], depth: int) -> Any:
        written, expected, out = self.layers(shape, self.draw(st.integers(1, 3)), depth + 1)
        if not written:
            return None
        name = f"group{next(self.names)}"
        return ({"Sequential": {"name": name, "layers": written}},
                {"Sequential": {"name": name, "layers": expected}}, out)

    def trainable(self, args: dict[str, Any]) -> None:
        if self.draw(st.integers(0, 4)) == 0:
            args["trainable"] = False


@st.composite
def specs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A spec as written, and the spec ``from_module`` must give back."""
    builder = Draw(draw)
    shape = (draw(st.integers(1, 4)), draw(st.integers(4, 10)), draw(st.integers(4, 10)))
    written, expected, _ = builder.layers(shape, draw(st.integers(1, 6)), 0)
    if not written or draw(st.booleans()):
        head: dict[str, Any] = {"out_features": draw(st.integers(1, 5))}
        builder.maybe(head, "bias", False)
        written += ["Flatten", {"Linear": head}]
        expected += ["Flatten", {"Linear": head}]
    base = {"name": "drawn", "input": list(shape)}
    return {**base, "layers": written}, {**base, "layers": expected}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_build_then_from_module_gives_the_spec_back(case: tuple[dict[str, Any], dict[str, Any]]
                                                    ) -> None:
    written, expected = case
    spec = netspec.load(written)
    back = round_trip(spec)
    assert back == netspec.load(expected), back.to_yaml()
    assert round_trip(back) == back


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_weights_carry_over_to_the_model_of_the_spec(case: tuple[dict[str, Any], Any]) -> None:
    spec = netspec.load(case[0])
    torch.manual_seed(0)
    model = netspec.build(spec).eval()
    again = netspec.build(netspec.from_module(model, spec.input)).eval()
    again.load_state_dict(model.state_dict())
    x = torch.randn(2, *spec.input)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)


# --- every bundled spec ---


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_bundled_spec_comes_back_as_the_same_network(path: Path) -> None:
    spec = netspec.load(path)
    model = netspec.build(spec, device="meta")
    back = netspec.from_module(model, spec.input, name=spec.name)
    assert signature(netspec.build(back, device="meta")) == signature(model)
    assert round_trip(back) == back
    assert netspec.analyze(back).to_dict()["totals"] == netspec.analyze(spec).to_dict()["totals"]


def test_a_spec_without_repeats_or_redundant_arguments_comes_back_equal() -> None:
    spec = netspec.load(Path(SPECS[0]).parent / "mlp_mnist.yaml")
    assert round_trip(spec) == spec


# --- the shortest form ---


def test_arguments_come_back_in_their_shortest_form() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.MaxPool2d(kernel_size=(2, 2)),
        nn.AvgPool2d(3, stride=1, padding=1),
        nn.LayerNorm(4),
        nn.BatchNorm2d(8, affine=False),
        Residual(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1)), nn.Identity()),
        Residual(nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)),
                 nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16)),
                 nn.Sequential(nn.ReLU())),
        Residual(nn.Sequential(nn.Conv2d(16, 4, 1)), None),
    )
    spec = netspec.from_module(model, (3, 16, 16))
    assert spec.to_data()["layers"] == [
        {"Conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
        {"MaxPool2d": {"kernel_size": 2}},  # stride = kernel_size is torch's default
        {"MaxPool2d": {"kernel_size": [2, 2]}},  # torch keeps a pool's kernel_size as written
        {"AvgPool2d": {"kernel_size": 3, "stride": 1, "padding": 1}},
        "LayerNorm",  # normalized_shape: the last dim, netspec's default
        {"BatchNorm2d": {"affine": False}},
        {"Residual": {"body": [{"Conv2d": {"out_channels": 8, "kernel_size": 3,
                                           "padding": 1}}]}},  # identity is what auto gives
        {"Residual": {"body": [{"Conv2d": {"out_channels": 16, "kernel_size": 3, "stride": 2,
                                           "bias": False, "padding": 1}}],
                      "post": ["ReLU"]}},  # the projection is auto's
        {"Residual": {"body": [{"Conv2d": {"out_channels": 4, "kernel_size": 1}}],
                      "shortcut": "if_same"}},  # no shortcut at all
    ]


def test_names_frozen_layers_nesting_and_parallel_branches() -> None:
    conv = nn.Conv2d(2, 4, 3, padding=1)
    conv.requires_grad_(False)
    model = nn.Sequential(OrderedDict([
        ("stem", conv),
        ("features", nn.Sequential(nn.ReLU(), nn.Identity())),
        ("mix", Parallel([nn.Sequential(nn.Conv2d(4, 2, 1)),
                          nn.Sequential(nn.Conv2d(4, 3, 3, padding=1), nn.ReLU())])),
        ("head", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3))),
    ]))
    spec = netspec.from_module(model, (2, 8, 8), name="tiny")
    assert spec == netspec.load("""
name: tiny
input: [2, 8, 8]
layers:
  - Conv2d: {out_channels: 4, kernel_size: 3, padding: 1, name: stem, trainable: false}
  - Sequential: {name: features, layers: [ReLU, Identity]}
  - Parallel:
      name: mix
      branches:
        - [{Conv2d: {out_channels: 2, kernel_size: 1}}]
        - [{Conv2d: {out_channels: 3, kernel_size: 3, padding: 1}}, ReLU]
  - Sequential:
      name: head
      layers: [{AdaptiveAvgPool2d: {output_size: 1}}, Flatten, {Linear: {out_features: 3}}]
""")


def test_a_single_module_becomes_a_one_layer_spec() -> None:
    spec = netspec.from_module(nn.Conv1d(3, 5, 4), (3, 20))
    assert spec.to_data() == {"input": [3, 20], "layers": [
        {"Conv1d": {"out_channels": 5, "kernel_size": 4}}]}


def test_one_dimensional_and_reshaping_layers() -> None:
    model = nn.Sequential(
        nn.Conv1d(3, 4, 3), nn.AvgPool1d(2), nn.MaxPool1d((2,)), nn.GroupNorm(2, 4),
        nn.Upsample(scale_factor=2.0), nn.Unflatten(1, (2, 2)), nn.Flatten(),
        nn.Softmax(dim=1),
    )
    spec = netspec.from_module(model, (3, 9))
    assert signature(netspec.build(spec, device="meta")) == signature(model)
    assert spec.to_data()["layers"][1] == {"AvgPool1d": {"kernel_size": 2}}


# --- errors name the module ---


def test_unsupported_modules_are_all_named() -> None:
    class MyConv(nn.Conv2d):
        pass

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Softplus(),
                          nn.Sequential(nn.LSTM(3, 3)), MyConv(4, 4, 1))
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.from_module(model, (3, 8, 8))
    message = str(caught.value)
    assert "1 (Softplus)" in message
    assert "2.0 (LSTM)" in message
    assert "3 (MyConv, a subclass of Conv2d)" in message


@pytest.mark.parametrize(("module", "shape", "expected"), [
    (nn.MaxPool2d(2, return_indices=True), (3, 8, 8),
     "attribute return_indices is True in the module, False in the spec's build"),
    (nn.Conv2d(3, 4, 3), (1, 8, 8), "in_channels follows from the input shape"),
    (nn.Conv2d(3, 4, 9), (3, 8, 8), "does not take the input shape [3, 8, 8]"),
])
def test_a_module_no_spec_reproduces_is_an_error_naming_it(
    module: nn.Module, shape: tuple[int, ...], expected: str
) -> None:
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.from_module(nn.Sequential(nn.Identity(), module), shape)
    assert "module 1 (" in str(caught.value)
    assert expected in str(caught.value)


def test_partly_frozen_layers_and_unnameable_modules_are_errors() -> None:
    conv = nn.Conv2d(3, 4, 3)
    conv.bias.requires_grad_(False)  # type: ignore[union-attr]
    with pytest.raises(netspec.NetspecError, match="partly frozen"):
        netspec.from_module(nn.Sequential(conv), (3, 8, 8))
    named = nn.Sequential(OrderedDict([("conv-1", nn.Conv2d(3, 4, 3))]))
    with pytest.raises(netspec.NetspecError, match="rename 'conv-1'"):
        netspec.from_module(named, (3, 8, 8))
