"""netspec: describe a torch.nn network in a short YAML file.

    import netspec
    spec = netspec.load("specs/lenet5.yaml")   # validated spec (also from a dict or YAML text)
    report = netspec.analyze(spec)             # shapes, params, MACs, receptive field; no torch
    model = netspec.build(spec)                # a plain nn.Sequential
    print(netspec.summary(spec))               # the table, confirmed by torchinfo

``build`` and ``summary`` import torch when first called; the rest never does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from netspec import layers
from netspec.analysis.analysis import LayerReport, Report, analyze, load
from netspec.core.errors import (
    ConfirmationError,
    LimitError,
    NetspecError,
    PluginError,
    Problem,
    SpecError,
)
from netspec.core.version import __version__ as _version
from netspec.layers.plugins import register_kind
from netspec.reading.spec import Spec

if TYPE_CHECKING:
    from netspec.advice.lints import lint
    from netspec.analysis.inputs import input_sizes
    from netspec.torch_side.build import build
    from netspec.torch_side.exporter import export
    from netspec.torch_side.load_weights import load_weights
    from netspec.torch_side.roundtrip import from_module
    from netspec.torch_side.weights import init_weights
    from netspec.views.diagram import draw
    from netspec.views.json_schema import schema
    from netspec.views.summary import Summary, summary

__version__ = _version

__all__ = [
    "ConfirmationError",
    "LayerReport",
    "LimitError",
    "NetspecError",
    "PluginError",
    "Problem",
    "Report",
    "Spec",
    "SpecError",
    "Summary",
    "analyze",
    "build",
    "draw",
    "export",
    "from_module",
    "init_weights",
    "input_sizes",
    "layers",
    "lint",
    "load",
    "load_weights",
    "register_kind",
    "schema",
    "summary",
]

# Imported on first use (torch, or work that ``check`` never needs): name -> its module.
_LAZY = {
    "build": "netspec.torch_side.build",
    "draw": "netspec.views.diagram",
    "export": "netspec.torch_side.exporter",
    "from_module": "netspec.torch_side.roundtrip",
    "init_weights": "netspec.torch_side.weights",
    "input_sizes": "netspec.analysis.inputs",
    "lint": "netspec.advice.lints",
    "load_weights": "netspec.torch_side.load_weights",
    "schema": "netspec.views.json_schema",
    "summary": "netspec.views.summary",
    "Summary": "netspec.views.summary",
}


def __getattr__(name: str) -> Any:
    """``build``, ``summary`` and the rest load torch or work ``check`` never needs, so they are
    imported on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'netspec' has no attribute {name!r}")
