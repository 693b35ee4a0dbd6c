"""Leaf kinds made when first named, so that a spec pays only for the kinds it uses.

A family's leaves often differ from their base only in class attributes: ``Conv2d`` is
``ConvNd`` with ``kind = "Conv2d"`` and ``rank = 2``; ``ReLU`` is an in-place activation with its
own docstring. Creating a pydantic class costs about a millisecond (its fields are collected
from every base), and a family module that wrote out all its leaves would create them all when
a spec names one. Such leaves are rows of a table instead::

    __getattr__ = leaves_on_demand(__name__, {
        "Conv1d": Leaf(ConvNd, rank=1),
        "Conv2d": Leaf(ConvNd, rank=2),
    })

and the module's ``__getattr__`` (PEP 562) creates and registers each class the first time
anyone asks the module for it: ``registry.kind_of`` when a spec names it, an import
(``from netspec.layers.conv import Conv2d``), or pickle. The class is the one a class statement
would make: same name, module, qualified name, docstring and attributes.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from netspec.layers.base import Layer
from netspec.layers.registry import register

_making = threading.Lock()


class Leaf:
    """One leaf kind: its base class, docstring and class attributes (``rank=2``...)."""

    __slots__ = ("attributes", "base", "doc")

    def __init__(self, base: type[Layer], doc: str | None = None, **attributes: Any) -> None:
        self.base = base
        self.doc = doc
        self.attributes = attributes


def leaves_on_demand(module: str, table: Mapping[str, Leaf]) -> Callable[[str], type[Layer]]:
    """A module ``__getattr__`` that makes the kind ``name`` of ``table`` on first use."""

    def __getattr__(name: str) -> type[Layer]:
        leaf = table.get(name)
        if leaf is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        namespace = sys.modules[module].__dict__
        with _making:  # two threads naming the kind at once make it once
            made = namespace.get(name)
            if made is None:
                body = {"__module__": module, "__qualname__": name, "__doc__": leaf.doc,
                        "kind": name, **leaf.attributes}
                metaclass: Any = type(leaf.base)  # pydantic's, as a class statement would use
                made = register(metaclass(name, (leaf.base,), body))
                namespace[name] = made
        return made  # type: ignore[no-any-return]

    return __getattr__
