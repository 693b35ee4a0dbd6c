"""Every layer kind netspec knows, one class each, loaded when first named.

``netspec.layers.Conv2d`` imports the module that defines ``Conv2d`` (``registry.KIND_MODULES``)
on first access, so a spec written in Python reads like one written in YAML.
"""

from __future__ import annotations

from typing import Any

from netspec.layers.base import Layer, LayerReport, ParamCount, TorchCall
from netspec.layers.plugins import register_kind
from netspec.layers.registry import KIND_MODULES, AnyLayer, kind_of, register, registered_kinds

__all__ = [
    "AnyLayer",
    "Layer",
    "LayerReport",
    "ParamCount",
    "TorchCall",
    "kind_of",
    "register",
    "register_kind",
    "registered_kinds",
    *KIND_MODULES,
]


def __getattr__(name: str) -> Any:
    """A kind class by its name (``netspec.layers.Conv2d``), imported on first use."""
    if name in KIND_MODULES:
        return kind_of(name)
    raise AttributeError(f"module 'netspec.layers' has no attribute {name!r}")
