"""Pictures of a spec: an SVG drawn top to bottom, or a Mermaid flowchart. Pure Python, no torch.

    netspec draw specs/resnet18.yaml -o resnet18.svg
    netspec draw specs/resnet18.yaml --format mermaid      # for a README

One box per layer: its kind and name, its key arguments, its output shape and receptive field.
Composite layers are framed; paths that start from the same input run side by side and meet in
a merge node, labelled by the kind (``Composite.merge_label``: ``+``, a times sign, ``concat``),
else ``+`` where the paths' shapes agree and ``concat`` where not. The picture follows the analysis
rows, so it shows what is built: ``Repeat`` copies one by one and a resolved ``shortcut:
auto``. How a composite's lists are arranged is read from their field names, not from the kind:
``branches``, ``body`` and ``shortcut`` run side by side, ``post`` follows the merge, the lists
a kind names in ``beside_input`` (``Gate``'s ``layers``) run beside an identity path, any other
list (``layers``) is a plain sequence; a ``body`` alone whose output has the input's shape gets
an identity path beside it. ``depth`` draws composites nested deeper than that as single boxes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from netspec.analysis.analysis import analyze, load
from netspec.core.shapes import Shape, spatial_columns, undefined_reason
from netspec.layers.base import RF, Layer, LayerReport
from netspec.reading.loader import SpecSource
from netspec.views.diagram_model import Box, Edge, Element, Fork, Frame, Stack
from netspec.views.diagram_render import mermaid, svg
from netspec.views.render import fraction

__all__ = ["draw"]

DiagramFormat = Literal["svg", "mermaid"]
TIMES = "\N{MULTIPLICATION SIGN}"  # between sizes: 64 x 56 x 56
SIDE_BY_SIDE = frozenset({"branches", "body", "shortcut"})
AFTER_MERGE = frozenset({"post"})
ABBREVIATIONS = {
    "kernel_size": "k", "stride": "s", "padding": "p", "dilation": "d", "groups": "g",
    "output_padding": "op", "scale_factor": "x", "output_size": "out ",
}
BARE = frozenset({"out_channels", "out_features"})
MAX_LINE = 34



def draw(
    source: SpecSource, *, format: DiagramFormat = "svg", depth: int | None = None,
    params: dict[str, Any] | None = None,
) -> str:
    """The diagram of a spec as SVG text (``format="svg"``) or a Mermaid flowchart."""
    spec = load(source, params=params)
    report = analyze(spec)
    by_path = _layers_by_path(spec.layers)
    diagram = _Builder(by_path, depth)
    input_box = diagram.box(["input", _shape(spec.input)], "input", "input", "")
    body = diagram.sequence(_tree(report.layers))
    chart = Stack([input_box, body], diagram.edges)
    title = spec.name or "network"
    if format == "mermaid":
        return mermaid(chart, diagram.edges)
    return svg(chart, diagram.edges, title)


# --- the row tree: composites and their lists ---


@dataclass
class _Row:
    row: LayerReport
    children: list[_Row] = field(default_factory=list)


def _tree(rows: Sequence[LayerReport]) -> list[_Row]:
    roots: list[_Row] = []
    stack: list[_Row] = []
    for row in rows:
        node = _Row(row)
        while stack and stack[-1].row.depth >= row.depth:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


_LIST_ITEM = re.compile(r"(\w+)((?:\[\d+\])+)")


def _lists(node: _Row) -> list[tuple[str, list[_Row]]]:
    """A composite's children grouped by list: ``body``, ``shortcut``, ``branches[1]``..."""
    groups: dict[str, list[_Row]] = {}
    for child in node.children:
        rest = child.row.path.removeprefix(node.row.path).lstrip(".")
        match = _LIST_ITEM.match(rest)
        indices = re.findall(r"\d+", match.group(2)) if match else []
        name = match.group(1) if match else "layers"
        key = f"{name}[{indices[0]}]" if len(indices) > 1 else name
        groups.setdefault(key, []).append(child)
    return list(groups.items())


def _layers_by_path(layers: Sequence[Layer], prefix: tuple[Any, ...] = ("layers",)
                    ) -> dict[str, Layer]:
    """Each layer of the spec by its row path (``layers[4].layers[0].body[1]``)."""
    from netspec.core.errors import format_path

    found: dict[str, Layer] = {}
    for index, entry in enumerate(layers):
        for suffix, layer in entry.expand():
            path = (*prefix, index, *suffix)
            found.setdefault(format_path(path), layer)
            for key in type(layer).model_fields:
                value = getattr(layer, key)
                if _is_layer_list(value):
                    found.update(_layers_by_path(value, (*path, key)))
                elif isinstance(value, tuple) and value and all(map(_is_layer_list, value)):
                    for branch, items in enumerate(value):
                        found.update(_layers_by_path(items, (*path, key, branch)))
    return found


def _is_layer_list(value: Any) -> bool:
    return isinstance(value, tuple) and bool(value) and all(isinstance(v, Layer) for v in value)


# --- labels ---


def _shape(shape: Shape) -> str:
    return TIMES.join(str(size) for size in shape)


def _rf(rf: RF) -> str:
    if undefined_reason(rf):
        return f"RF n/a ({undefined_reason(rf)})"
    rf = spatial_columns(rf)
    if not rf:
        return ""
    if not all(axis.known for axis in rf):  # a plugin kind did not say
        return "RF ?"
    if not any(axis.positional for axis in rf):
        return "RF whole"
    return "RF " + TIMES.join(fraction(axis.size) for axis in rf)


def _arguments(layer: Layer | None) -> str:
    """``64, k3, s2, p1, no bias``: the arguments that differ from their defaults."""
    if layer is None:
        return ""
    parts = []
    for key, value in layer.spec_args().items():
        if key in layer.netspec_fields or key in layer.inferred or _is_layer_list(value) or (
                isinstance(value, tuple) and value and all(map(_is_layer_list, value))):
            continue
        if isinstance(value, tuple) and value and all(item == value[0] for item in value):
            value = value[0]  # [2, 2] reads 2
        text = TIMES.join(map(str, value)) if isinstance(value, tuple | list) else str(value)
        if isinstance(value, bool):
            parts.append(key if value else f"no {key}")
        elif key in BARE:
            parts.append(text)
        elif key in ABBREVIATIONS:
            parts.append(f"{ABBREVIATIONS[key]}{text}")
        else:
            parts.append(f"{key}={text}")
    line = ", ".join(parts)
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


class _Builder:
    def __init__(self, by_path: dict[str, Layer], depth: int | None) -> None:
        self.by_path, self.depth = by_path, depth
        self.edges: list[Edge] = []
        self.count = 0

    def ident(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def box(self, lines: list[str], css: str, kind: str, path: str) -> Box:
        return Box(self.ident("n"), [line for line in lines if line], css, kind, path)

    def sequence(self, nodes: list[_Row]) -> Element:
        items = [self.element(node) for node in nodes]
        if not items:  # `Repeat: {times: 0}` alone: the output is the input
            return self.box(["no layers", "output = input"], "layer", "", "")
        return items[0] if len(items) == 1 else Stack(items, self.edges)

    def element(self, node: _Row) -> Element:
        row = node.row
        layer = getattr(row, "layer", None) or self.by_path.get(row.path)
        heading = row.kind if row.name.isdigit() else f"{row.kind} {row.name}"
        facts = " · ".join(part for part in (_shape(row.out_shape), _rf(row.rf)) if part)
        collapsed = self.depth is not None and row.depth >= self.depth
        if not node.children or collapsed:
            extra = f"{row.params:,} params" if node.children and row.params else ""
            css = "layer composite" if node.children else "layer"
            return self.box([heading, _arguments(layer) if not node.children else extra, facts],
                            css, row.kind, row.path)
        return Frame(self.ident("g"), f"{heading} → {facts}", row.kind, row.path,
                      self.composite(node))

    def composite(self, node: _Row) -> Element:
        lists = _lists(node)
        layer = node.row.layer
        beside: frozenset[str] = getattr(layer, "beside_input", frozenset())
        side_by_side = SIDE_BY_SIDE | beside
        before = [rows for key, rows in lists if _field(key) not in side_by_side | AFTER_MERGE]
        side = [(key, rows) for key, rows in lists if _field(key) in side_by_side]
        after = [rows for key, rows in lists if _field(key) in AFTER_MERGE]
        parts = [self.sequence(rows) for rows in before]
        if side:
            merged = after[0][0].row.in_shape if after else node.row.out_shape
            outputs = [rows[-1].row.out_shape for _, rows in side]
            bypass = len(side) == 1 and _field(side[0][0]) in {"body"} | beside and (
                node.row.in_shape == merged)
            if len(side) > 1 or bypass:
                label = getattr(layer, "merge_label", lambda: None)() or (
                    "+" if all(shape == merged for shape in outputs) else "concat")
                merge = self.box([label], "merge", "merge", node.row.path)
                columns = [self.sequence(rows) for _, rows in side]
                parts.append(Fork(columns, bypass, merge, self.edges))
            else:
                parts.append(self.sequence(side[0][1]))
        parts += [self.sequence(rows) for rows in after]
        return parts[0] if len(parts) == 1 else Stack(parts, self.edges)


def _field(key: str) -> str:
    return key.split("[", 1)[0]
