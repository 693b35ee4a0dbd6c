"""netspec: describe a torch.nn network in a short YAML file.

    import netspec
    spec = netspec.load("specs/lenet5.yaml")   # validated spec (also from a dict or YAML text)
    report = netspec.analyze(spec)             # shapes, params, MACs, receptive field; no torch
    model = netspec.build(spec)                # a plain nn.Sequential
    print(netspec.summary(spec))               # the table, confirmed by torchinfo

``build`` and ``summary`` import torch when first called; the rest never does.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from . import layers
from .analysis import LayerReport, Report, analyze
from .errors import ConfirmationError, LimitError, NetspecError, Problem, SpecError
from .loader import load
from .spec import Spec

if TYPE_CHECKING:
    from .build import build
    from .diagram import draw
    from .exporter import export
    from .inputs import input_sizes
    from .json_schema import schema
    from .lints import lint
    from .roundtrip import from_module
    from .summary import Summary, summary
    from .weights import init_weights

__version__ = "0.1.0"

__all__ = [
    "ConfirmationError",
    "LayerReport",
    "LimitError",
    "NetspecError",
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
    "schema",
    "summary",
]

# Imported on first use (torch, or work that ``check`` never needs): name -> its module.
_LAZY = {"draw": "diagram", "export": "exporter", "from_module": "roundtrip",
         "init_weights": "weights", "input_sizes": "inputs", "lint": "lints",
         "schema": "json_schema"}


def __getattr__(name: str) -> Any:
    """``build`` and ``summary`` load torch, so they are imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name == "build":
        from .build import build

        return build
    if name == "summary":
        from .summary import summary

        return summary
    if name == "Summary":
        from .summary import Summary

        return Summary
    raise AttributeError(f"module 'netspec' has no attribute {name!r}")


class _Package(ModuleType):
    """Importing the submodule ``netspec.build`` (or ``.summary``) sets the package attribute of
    that name to the submodule, which would shadow the function from then on; keep the function.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("build", "summary") and isinstance(value, ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
