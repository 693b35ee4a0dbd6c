"""Property tests: random compositions analyse to exactly what the real built module does.

Hypothesis draws specs as plain dicts: chains of convolutions, pools, norms and activations in
1-D, 2-D and 3-D, with nested ``Residual`` (every kind of shortcut), ``Parallel`` (concat and
add), ``Repeat`` and named ``Sequential`` groups, some layers frozen and some named. The
generator tracks shapes with torch's documented size formulas (its own arithmetic, not
netspec's), so every drawn spec is valid and composite paths line up: layers inside a residual
body or a branch keep the window centred (odd kernels, padding ``d (k - 1) / 2``) and every path
of one merge carries the same stride.

For each spec, ``netspec.analyze(netspec.load(d))`` must give, for ``netspec.build(d)``:
the final output shape of a real forward pass (eval mode), the parameter count (all and
trainable), the buffer count and FlopCounterMode's total MACs (FLOPs / 2); and per top-level
child module, the output shape (seen by a forward hook) and the parameter count of the matching
depth-0 row.
A spec must also round-trip through YAML.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import netspec

Shape = tuple[int, ...]
Entry = Any  # a spec entry: a bare name or {Kind: {args}}

SIZES = {1: (4, 14), 2: (3, 8), 3: (2, 5)}  # input spatial size range per rank
MAX_CHANNELS = 4
MAX_DEPTH = 2  # composites nest at most this deep
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- torch's size formulas, written out here (torch.nn.Conv*d / MaxPool*d documentation) ---


def conv_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def pool_size(n: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    top = n + 2 * p - (k - 1) - 1
    out = (-(-top // s) if ceil_mode else top // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input
        out -= 1
    return out


def ceil_div(n: int, s: int) -> int:
    return -(-n // s)


class Generator:
    """Draws layer entries while tracking the shape of one sample."""

    def __init__(self, draw: st.DrawFn, rank: int) -> None:
        self.draw = draw
        self.rank = rank
        self.counter = itertools.count()

    # small helpers

    def bool(self) -> bool:
        return self.draw(st.booleans())

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def pick(self, *options: Any) -> Any:
        return self.draw(st.sampled_from(options))

    def kind(self, base: str) -> str:
        return f"{base}{self.rank}d"

    def fresh_name(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def per_axis(self, values: list[int]) -> int | list[int]:
        return values[0] if len(set(values)) == 1 else values

    @staticmethod
    def can_stride(shape: Shape) -> bool:
        """A stride of 2 only where it shrinks every axis (a 1-pixel axis would keep its size)."""
        return all(n >= 2 for n in shape[1:])

    # leaf layers that keep the window centred: odd kernels, padding d (k - 1) / 2

    def centred_conv(
        self, shape: Shape, *, stride: int = 1, out: int | None = None, groups: bool = False,
        frozen_ok: bool = True,
    ) -> tuple[Entry, Shape]:
        kernels = [self.pick(1, 3) for _ in range(self.rank)]
        dilation = self.pick(1, 2) if any(k > 1 for k in kernels) else 1
        out = out or self.int(1, MAX_CHANNELS)
        args: dict[str, Any] = {"out_channels": out, "kernel_size": self.per_axis(kernels)}
        pads = [dilation * (k - 1) // 2 for k in kernels]
        if any(pads):
            args["padding"] = self.per_axis(pads)
        if stride > 1:
            args["stride"] = stride
        if dilation > 1:
            args["dilation"] = dilation
        if groups and math.gcd(shape[0], out) > 1 and self.bool():
            args["groups"] = math.gcd(shape[0], out)
        if self.bool():
            args["bias"] = False
        if frozen_ok and self.int(0, 5) == 0:
            args["trainable"] = False
        return {self.kind("Conv"): args}, (out, *(ceil_div(n, stride) for n in shape[1:]))

    def centred_stride_layer(self, shape: Shape) -> tuple[Entry, Shape]:
        """A layer of stride 2 that keeps centres: ``ceil(n / 2)`` per axis."""
        if self.bool():
            return self.centred_conv(shape, stride=2)
        entry = {self.kind("MaxPool"): {"kernel_size": 3, "stride": 2, "padding": 1}}
        return entry, (shape[0], *(ceil_div(n, 2) for n in shape[1:]))

    def pointwise(self, shape: Shape) -> tuple[Entry, Shape]:
        choice = self.int(0, 4)
        if choice == 0:
            return self.kind("BatchNorm"), shape
        if choice == 1:
            return {self.kind("BatchNorm"): {"affine": False}}, shape
        if choice == 2 and (self.rank < 3 or min(shape[1:]) >= 3):  # torch's avg_pool3d: n >= k
            return {self.kind("AvgPool"): {"kernel_size": 3, "stride": 1, "padding": 1}}, shape
        return self.pick("ReLU", "Identity", "Dropout", "GELU"), shape

    # general leaf layers (any padding, even kernels, ceil-mode pools)

    def general_leaf(self, shape: Shape) -> tuple[Entry, Shape]:
        choice = self.int(0, 3)
        if choice == 0:
            return self.pointwise(shape)
        if choice == 1 and all(n >= 2 for n in shape[1:]):
            k = self.pick(2, 3)
            s = self.pick(1, 2)
            p = self.int(0, k // 2)
            ceil_mode = self.bool()
            kind = self.pick("MaxPool", "AvgPool")
            if kind == "AvgPool" and self.rank == 3 and min(shape[1:]) < k:
                kind = "MaxPool"  # torch's avg_pool3d (only the 3-d one) needs n >= k
            spatial = tuple(pool_size(n, k, s, p, ceil_mode) for n in shape[1:])
            if all(m >= 1 for m in spatial):
                args = {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil_mode}
                return {self.kind(kind): args}, (shape[0], *spatial)
        return self.general_conv(shape)

    def general_conv(self, shape: Shape) -> tuple[Entry, Shape]:
        out = self.int(1, MAX_CHANNELS)
        k = self.int(1, 4)
        d = self.pick(1, 2) if k > 1 else 1
        args: dict[str, Any] = {"out_channels": out, "kernel_size": k}
        if d > 1:
            args["dilation"] = d
        if self.int(0, 3) == 0:  # padding: same, with the extra pixel on the right for even k
            args["padding"] = "same"
            spatial = shape[1:]
        else:
            s = self.pick(1, 2)
            p = self.int(0, d * (k - 1) // 2 + 1)
            spatial = tuple(conv_size(n, k, s, p, d) for n in shape[1:])
            if any(m < 1 for m in spatial):  # too small for this kernel: a 1x1 instead
                return {self.kind("Conv"): {"out_channels": out, "kernel_size": 1}}, (
                    out, *shape[1:])
            args.update(stride=s, padding=p)
        if math.gcd(shape[0], out) > 1 and self.bool():
            args["groups"] = math.gcd(shape[0], out)
        return {self.kind("Conv"): args}, (out, *spatial)

    # chains: (entries, shape, stride), the stride being the product of the strides on the path

    def centred_chain(
        self, shape: Shape, depth: int, *, stride: bool, length: int | None = None
    ) -> tuple[list[Entry], Shape, int]:
        """1 to 3 centred layers (composites included below ``MAX_DEPTH``); ``stride``: stride-2
        layers allowed."""
        layers: list[Entry] = []
        total = 1
        for _ in range(length or self.int(1, 3)):
            choice = self.int(0, 5) if depth < MAX_DEPTH else self.int(0, 2)
            strided = stride and self.can_stride(shape) and self.int(0, 2) == 0
            step = 1
            if choice == 0:
                entry, shape = self.pointwise(shape)
            elif choice in (1, 2):
                if strided:
                    (entry, shape), step = self.centred_stride_layer(shape), 2
                else:
                    entry, shape = self.centred_conv(shape, groups=True)
            elif choice == 3:
                entry, shape, step = self.residual(shape, depth + 1, stride=stride)
            elif choice == 4:
                entry, shape = self.parallel(shape, depth + 1, stride=strided)
                step = 2 if strided else 1
            else:
                inner, shape, step = self.centred_chain(shape, depth + 1, stride=stride)
                entry = {"Sequential": {"layers": inner}}
            layers.append(entry)
            total *= step
        return layers, shape, total

    def to_channels(self, layers: list[Entry], shape: Shape, channels: int) -> Shape:
        """Append a 1x1 convolution when the chain does not end with ``channels``."""
        if shape[0] != channels:
            layers.append({self.kind("Conv"): {"out_channels": channels, "kernel_size": 1}})
            shape = (channels, *shape[1:])
        return shape

    # composites

    def residual(self, shape: Shape, depth: int, *, stride: bool) -> tuple[Entry, Shape, int]:
        shortcut = self.pick("auto", "if_same", "identity", "explicit")
        args: dict[str, Any] = {}
        if shortcut == "identity":
            body, out, total = self.centred_chain(shape, depth, stride=False)
            out = self.to_channels(body, out, shape[0])
            args["shortcut"] = "identity"
        else:
            body, out, total = self.centred_chain(shape, depth, stride=stride)
            if shortcut == "explicit":  # the body's stride on a 1x1 or 3x3 conv, maybe a norm
                conv, _ = self.centred_conv(shape, stride=total, out=out[0])
                args["shortcut"] = [conv, self.kind("BatchNorm")] if self.bool() else [conv]
            elif shortcut == "if_same" or self.bool():
                args["shortcut"] = shortcut  # else left out: auto is the default
        args["body"] = body
        if self.bool():
            args["post"] = [self.pick("ReLU", "Identity")]
        if self.int(0, 5) == 0:
            args["trainable"] = False
        return {"Residual": args}, out, total

    def parallel(self, shape: Shape, depth: int, *, stride: bool) -> tuple[Entry, Shape]:
        merge = self.pick("concat", "add")
        target = self.int(1, MAX_CHANNELS)
        branches: list[list[Entry]] = []
        outs: list[Shape] = []
        for _ in range(self.int(2, 3)):
            branch, out, _ = self.centred_chain(shape, depth, stride=False)
            if stride:  # every branch ends with the same stride 2
                entry, out = self.centred_stride_layer(out)
                branch.append(entry)
            if merge == "add":
                out = self.to_channels(branch, out, target)
            branches.append(branch)
            outs.append(out)
        args: dict[str, Any] = {"branches": branches}
        if merge == "add" or self.bool():
            args["merge"] = merge
        channels = outs[0][0] if merge == "add" else sum(out[0] for out in outs)
        return {"Parallel": args}, (channels, *outs[0][1:])

    def repeat(self, shape: Shape, depth: int) -> tuple[Entry, Shape]:
        """``times`` copies. Either the copies keep the shape, or they start with a convolution
        (no groups) that fixes the channels: the first copy changes them, later ones keep them,
        so a residual's ``auto`` shortcut projects in the first copy only."""
        times = self.int(1, 3)
        if self.bool():
            layers, out, _ = self.centred_chain(shape, depth, stride=False)
            out = self.to_channels(layers, out, shape[0])
        else:
            first, out = self.centred_conv(shape)
            layers, out, _ = self.centred_chain(out, depth, stride=False)
            layers.insert(0, first)
        args: dict[str, Any] = {"times": times, "layers": layers}
        if self.int(0, 4) == 0:
            args["trainable"] = False
        return {"Repeat": args}, out

    def top_chain(self, shape: Shape) -> tuple[list[Entry], Shape]:
        layers: list[Entry] = []
        for _ in range(self.int(1, 4)):
            choice = self.int(0, 6)
            if choice <= 1:
                entry, shape = self.general_leaf(shape)
            elif choice == 2:
                entry, shape, _ = self.residual(shape, 1, stride=True)
            elif choice == 3:
                entry, shape = self.parallel(
                    shape, 1, stride=self.can_stride(shape) and self.bool())
            elif choice == 4:
                entry, shape = self.repeat(shape, 1)
            elif choice == 5:
                inner, shape, _ = self.centred_chain(shape, 1, stride=True)
                entry = {"Sequential": {"layers": inner}}
            else:
                entry, shape = self.general_conv(shape)
            layers.append(self.named(entry) if self.int(0, 3) == 0 else entry)
        return layers, shape

    def named(self, entry: Entry) -> Entry:
        """The entry with a ``name:`` (a ``Repeat`` has no module of its own to name)."""
        kind, args = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        if kind == "Repeat":
            return entry
        return {kind: {**(args or {}), "name": self.fresh_name("m")}}

    def head(self, shape: Shape) -> tuple[list[Entry], Shape]:
        """Global pool, flatten, and linear layers, maybe branched: 1-D samples [F]."""
        features = self.int(1, 6)
        layers: list[Entry] = [
            {self.kind(self.pick("AdaptiveAvgPool", "AdaptiveMaxPool")): {"output_size": 1}},
            "Flatten",
            {"Linear": {"out_features": features}},
        ]
        if self.bool():
            merge = self.pick("concat", "add")
            widths = [features if merge == "add" else self.int(1, 4) for _ in range(2)]
            branches = [[{"Linear": {"out_features": w}}, "ReLU"] for w in widths]
            layers.append({"Parallel": {"branches": branches, "merge": merge}})
            features = widths[0] if merge == "add" else sum(widths)
        if self.bool():
            layers.append({"Repeat": {"times": 2, "layers": [
                {"Linear": {"out_features": features}}, "ReLU"]}})
        return layers, (features,)


@st.composite
def specs(draw: st.DrawFn) -> tuple[dict[str, Any], Shape]:
    """A random valid spec and the output shape that torch's formulas give for it."""
    rank = draw(st.integers(1, 3))
    gen = Generator(draw, rank)
    lo, hi = SIZES[rank]
    shape: Shape = (draw(st.integers(1, MAX_CHANNELS)),
                    *(draw(st.integers(lo, hi)) for _ in range(rank)))
    layers, out = gen.top_chain(shape)
    if draw(st.booleans()):
        head, out = gen.head(out)
        layers += head
    return {"name": "random", "input": list(shape), "layers": layers}, out


# --- the property ---


def run_module(model: torch.nn.Module, shape: Shape) -> tuple[Shape, dict[str, Shape], int]:
    """Output shape, each top-level child's output shape (forward hooks), FlopCounterMode's
    MACs (FLOPs / 2)."""
    seen: dict[str, Shape] = {}
    handles = [
        child.register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape[1:]))
        )
        for name, child in model.named_children()
    ]
    x = torch.randn(1, *shape)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note on padding='same' with even kernels
        out = model(x)
        for handle in handles:
            handle.remove()
        with FlopCounterMode(display=False) as counter:
            model(x)
    return tuple(out.shape[1:]), seen, counter.get_total_flops() // 2


@SETTINGS
@given(specs())
def test_analysis_equals_the_built_module(drawn: tuple[dict[str, Any], Shape]) -> None:
    data, expected_out = drawn
    spec = netspec.load(data)
    report = netspec.analyze(spec)
    model = netspec.build(data).eval()
    out, seen, macs = run_module(model, tuple(data["input"]))

    assert out == expected_out  # the generator's own arithmetic agrees with torch
    assert report.output_shape == out
    assert report.params == sum(p.numel() for p in model.parameters())
    assert report.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert report.buffers == sum(b.numel() for b in model.buffers())
    assert report.macs == macs

    top = report.top_level()
    children = dict(model.named_children())
    assert [row.name for row in top] == list(children)
    for row in top:
        child = children[row.name]
        assert row.out_shape == seen[row.name], row.path
        assert row.params == sum(p.numel() for p in child.parameters()), row.path
        assert row.trainable_params == sum(
            p.numel() for p in child.parameters() if p.requires_grad
        ), row.path
        assert row.buffers == sum(b.numel() for b in child.buffers()), row.path


@SETTINGS
@given(specs())
def test_yaml_round_trip(drawn: tuple[dict[str, Any], Shape]) -> None:
    spec = netspec.load(drawn[0])
    again = netspec.load(spec.to_yaml())
    assert again == spec
    assert netspec.analyze(again).layers == netspec.analyze(spec).layers
