"""One harness that compares a layer kind's analysis with the real torch module.

Every kind's tests call these helpers, so "netspec agrees with torch" means the same thing for all
kinds: output shape, parameter count, buffer count, and FlopCounterMode's MAC count (FLOPs / 2),
on a batch of one.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.core.errors import NetspecError
from netspec.layers.base import Layer
from netspec.layers.registry import kind_of


def torch_module(layer: Layer, in_shape: tuple[int, ...]) -> torch.nn.Module:
    """The plain torch module for ``layer``, built from netspec's own torch arguments."""
    return getattr(torch.nn, layer.kind)(**layer.torch_kwargs(in_shape))


def assert_matches_torch(layer: Layer, in_shape: tuple[int, ...]) -> None:
    """Shape, parameters, buffers and MACs of ``layer`` equal those of the real module."""
    module = torch_module(layer, in_shape).eval()
    x = torch.randn(1, *in_shape)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with FlopCounterMode(display=False) as counter:
            out = module(x)
    assert tuple(out.shape[1:]) == layer.output_shape(in_shape), (layer, in_shape)
    assert sum(p.numel() for p in module.parameters()) == layer.parameter_count(in_shape)
    assert sum(b.numel() for b in module.buffers()) == layer.buffer_count(in_shape)
    macs = layer.macs(in_shape, tuple(out.shape[1:]))
    assert counter.get_total_flops() // 2 == macs, (layer, in_shape)


def netspec_accepts(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> bool:
    """True when netspec validates and analyses a one-layer spec; False on ``NetspecError``.

    Any other exception escapes and fails the test: netspec only ever raises its own family.
    """
    try:
        netspec.analyze(netspec.load({"input": list(in_shape), "layers": [{kind: args}]}))
    except NetspecError:
        return False
    return True


def torch_accepts(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> bool:
    """True when torch constructs the module with these arguments and runs a batch of one.

    Inferred arguments (``in_channels``...) are filled in from ``in_shape`` the way a user of
    torch would: the number of channels, features or the last dimension.
    """
    cls = kind_of(kind)
    full = dict(args)
    for name in cls.inferred:
        full.setdefault(name, in_shape[0] if name != "in_features" else in_shape[-1])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = getattr(torch.nn, kind)(**full).eval()
            with torch.no_grad():
                out = module(torch.randn(1, *in_shape))
    except (RuntimeError, ValueError, TypeError, IndexError, AssertionError):
        return False
    return out.numel() > 0


def assert_same_verdict(kind: str, args: dict[str, Any], in_shape: tuple[int, ...]) -> None:
    """netspec accepts exactly what torch accepts."""
    ours = netspec_accepts(kind, args, in_shape)
    theirs = torch_accepts(kind, args, in_shape)
    assert ours == theirs, f"{kind}({args}) on {in_shape}: netspec {ours}, torch {theirs}"


def assert_round_trip_keeps_outputs(spec: netspec.Spec) -> None:
    """``from_module`` of the built model gives back a spec with the same analysis, whose model
    takes the first's weights and computes the same outputs on a random sample."""
    model = netspec.build(spec)
    again = netspec.from_module(model, spec.input)
    assert netspec.analyze(again) == netspec.analyze(spec)
    rebuilt = netspec.build(again)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(1, *spec.input)
    torch.testing.assert_close(rebuilt(x), model(x))
