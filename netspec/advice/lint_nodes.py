"""The rows of an analysis as the lint rules see them: each with the row after it in its list,
its enclosing rows, and where it is written in the spec. No torch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netspec.core.errors import SpecPath, format_path
from netspec.layers.base import LayerReport

if TYPE_CHECKING:
    from netspec.layers.base import Layer


@dataclass(frozen=True)
class Node:
    """A row with what the rules ask about its place: the row after it in the same list, its
    enclosing rows, and whether it has rows inside it."""

    row: LayerReport
    layer: Layer
    after: Node | None
    ancestors: tuple[LayerReport, ...]
    leaf: bool
    path: SpecPath = ()
    """Where the layer is written: ``("layers", 4, "Sequential", "layers", 0, "Conv2d")``."""


Finding = tuple[str, str]  # (code, message)


def nodes_of(rows: Sequence[LayerReport]) -> list[Node]:
    """Rows with their context; the row after one in its list is the next row at its depth
    before any shallower one, with the next index (a new list restarts at 0)."""
    nodes: list[Node] = []
    stack: list[LayerReport] = []
    paths: list[SpecPath] = []
    for position, row in enumerate(rows):
        del stack[row.depth:]
        del paths[row.depth:]
        # Row paths leave out the composites' kinds (``layers[4].body[0]``); the spec has them.
        path = (*paths[-1], *parse_path(row.path[len(stack[-1].path):].lstrip("."))) if stack \
            else parse_path(row.path)
        end = position + 1  # past the rows inside this one
        while end < len(rows) and rows[end].depth > row.depth:
            end += 1
        after = None
        if end < len(rows) and (rows[end].depth, rows[end].index) == (row.depth, row.index + 1):
            after = Node(rows[end], layer_of(rows[end]), None, (), True)
        leaf = position + 1 == len(rows) or rows[position + 1].depth <= row.depth
        nodes.append(Node(row, layer_of(row), after, tuple(stack), leaf, (*path, row.kind)))
        stack.append(row)
        paths.append((*path, row.kind))
    return nodes


def layer_of(row: LayerReport) -> Layer:
    if row.layer is None:
        raise ValueError(f"row {row.path} carries no layer; lints need an analysed spec")
    return row.layer


def shape_text(shape: Sequence[int]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def where(row: LayerReport) -> str:
    """``layers[7] Linear (f5)``: the row's spec path, kind and name when it has one."""
    named = f" ({row.name})" if row.name != str(row.index) else ""
    return f"{row.path} {row.kind}{named}"


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(text: str) -> SpecPath:
    """``layers[2].Residual.body[0]`` -> ``("layers", 2, "Residual", "body", 0)``."""
    path = tuple(int(index) if index else name for name, index in _PART.findall(text))
    if format_path(path) != text:
        raise ValueError(f"not a spec path: {text!r}")
    return path
