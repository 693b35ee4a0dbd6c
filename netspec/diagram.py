"""Pictures of a spec: an SVG drawn top to bottom, or a Mermaid flowchart. Pure Python, no torch.

    netspec draw specs/resnet18.yaml -o resnet18.svg
    netspec draw specs/resnet18.yaml --format mermaid      # for a README

One box per layer: its kind and name, its key arguments, its output shape and receptive field.
Composite layers are framed; paths that start from the same input run side by side and meet in
a merge node (``+`` where they are added, ``concat`` where concatenated). The picture follows
the analysis rows, so it shows what is built: ``Repeat`` copies one by one and a resolved
``shortcut: auto``. How a composite's lists are arranged is read from their field names, not
from the kind: ``branches``, ``body`` and ``shortcut`` run side by side, ``post`` follows the
merge, any other list (``layers``) is a plain sequence; a ``body`` alone whose output has the
input's shape gets an identity path beside it. ``depth`` draws composites nested deeper than
that as single boxes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

from .analysis import analyze
from .layers import Layer
from .loader import SpecSource, load
from .render import fraction
from .report import RF, LayerReport
from .shapes import Shape

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

FONT_SIZE, CHAR_W, LINE_H = 12, 7.3, 15
PAD, V_GAP, H_GAP, BEND = 8, 30, 26, 14
GROUP_PAD, TITLE_H, MIN_BOX_W = 10, 16, 110


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
    chart = _Stack([input_box, body], diagram.edges)
    title = spec.name or "network"
    if format == "mermaid":
        return _mermaid(chart, diagram.edges)
    return _svg(chart, diagram.edges, title)


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
    from .errors import format_path

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
    if not rf:
        return ""
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


# --- the diagram model: boxes, merges, stacks, forks, frames; then placement ---


@dataclass
class _Edge:
    source: _Box
    target: _Box
    label: str = ""
    via: _Bypass | None = None


class _Element:
    width: float = 0
    height: float = 0
    x: float = 0
    y: float = 0

    def place(self, x: float, y: float) -> None:
        self.x, self.y = x, y

    def entries(self) -> list[tuple[_Box, _Bypass | None]]:
        raise NotImplementedError

    def exits(self) -> list[_Box]:
        raise NotImplementedError

    def boxes(self) -> Iterator[_Box]:
        raise NotImplementedError

    def frames(self) -> Iterator[_Frame]:
        return iter(())


class _Box(_Element):
    def __init__(self, ident: str, lines: list[str], css: str, kind: str, path: str) -> None:
        self.ident, self.lines, self.css, self.kind, self.path = ident, lines, css, kind, path
        self.width = max(MIN_BOX_W, max(len(line) for line in lines) * CHAR_W + 2 * PAD)
        self.height = len(lines) * LINE_H + 2 * PAD
        if css == "merge":
            self.width = max(len(lines[0]) * CHAR_W + 18, 30)
            self.height = 24

    @property
    def centre(self) -> float:
        return self.x + self.width / 2

    def entries(self) -> list[tuple[_Box, _Bypass | None]]:
        return [(self, None)]

    def exits(self) -> list[_Box]:
        return [self]

    def boxes(self) -> Iterator[_Box]:
        yield self


class _Stack(_Element):
    """Elements top to bottom, centred, each joined to the next."""

    def __init__(self, items: list[_Element], edges: list[_Edge]) -> None:
        self.items = items
        for upper, lower in pairwise(items):
            for source in upper.exits():
                for target, via in lower.entries():
                    edges.append(_Edge(source, target, "identity" if via else "", via))
        self.width = max(item.width for item in items)
        self.height = sum(item.height for item in items) + V_GAP * (len(items) - 1)

    def place(self, x: float, y: float) -> None:
        super().place(x, y)
        for item in self.items:
            item.place(x + (self.width - item.width) / 2, y)
            y += item.height + V_GAP

    def entries(self) -> list[tuple[_Box, _Bypass | None]]:
        return self.items[0].entries()

    def exits(self) -> list[_Box]:
        return self.items[-1].exits()

    def boxes(self) -> Iterator[_Box]:
        for item in self.items:
            yield from item.boxes()

    def frames(self) -> Iterator[_Frame]:
        for item in self.items:
            yield from item.frames()


class _Bypass(_Element):
    """An identity path beside a residual body: an edge, no box."""

    width = 2 * H_GAP

    def __init__(self, merge: _Box) -> None:
        self.merge = merge

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


class _Fork(_Element):
    """Columns on the same input, side by side, meeting in a merge node."""

    def __init__(self, columns: list[_Element], bypass: bool, merge: _Box,
                 edges: list[_Edge]) -> None:
        self.columns, self.merge = columns, merge
        self.bypass = _Bypass(merge) if bypass else None
        for column in columns:
            for source in column.exits():
                edges.append(_Edge(source, merge))
        parts: list[_Element] = [*columns, *([self.bypass] if self.bypass else [])]
        self.parts = parts
        self.width = max(sum(p.width for p in parts) + H_GAP * (len(parts) - 1), merge.width)
        self.height = max(c.height for c in columns) + V_GAP + merge.height

    def place(self, x: float, y: float) -> None:
        super().place(x, y)
        total = sum(p.width for p in self.parts) + H_GAP * (len(self.parts) - 1)
        left = x + (self.width - total) / 2
        for part in self.parts:
            part.place(left, y)
            left += part.width + H_GAP
        self.merge.place(x + (self.width - self.merge.width) / 2,
                         y + self.height - self.merge.height)

    def entries(self) -> list[tuple[_Box, _Bypass | None]]:
        found = [entry for column in self.columns for entry in column.entries()]
        return found + ([(self.merge, self.bypass)] if self.bypass else [])

    def exits(self) -> list[_Box]:
        return [self.merge]

    def boxes(self) -> Iterator[_Box]:
        for column in self.columns:
            yield from column.boxes()
        yield self.merge

    def frames(self) -> Iterator[_Frame]:
        for column in self.columns:
            yield from column.frames()


class _Frame(_Element):
    """A composite layer: its title, and its contents inside a dashed frame."""

    def __init__(self, ident: str, title: str, kind: str, path: str, content: _Element) -> None:
        self.ident, self.title, self.kind, self.path = ident, title, kind, path
        self.content = content
        self.width = max(content.width, len(title) * CHAR_W) + 2 * GROUP_PAD
        self.height = content.height + 2 * GROUP_PAD + TITLE_H

    def place(self, x: float, y: float) -> None:
        super().place(x, y)
        self.content.place(x + (self.width - self.content.width) / 2, y + GROUP_PAD + TITLE_H)

    def entries(self) -> list[tuple[_Box, _Bypass | None]]:
        return self.content.entries()

    def exits(self) -> list[_Box]:
        return self.content.exits()

    def boxes(self) -> Iterator[_Box]:
        return self.content.boxes()

    def frames(self) -> Iterator[_Frame]:
        yield self
        yield from self.content.frames()


class _Builder:
    def __init__(self, by_path: dict[str, Layer], depth: int | None) -> None:
        self.by_path, self.depth = by_path, depth
        self.edges: list[_Edge] = []
        self.count = 0

    def ident(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def box(self, lines: list[str], css: str, kind: str, path: str) -> _Box:
        return _Box(self.ident("n"), [line for line in lines if line], css, kind, path)

    def sequence(self, nodes: list[_Row]) -> _Element:
        items = [self.element(node) for node in nodes]
        return items[0] if len(items) == 1 else _Stack(items, self.edges)

    def element(self, node: _Row) -> _Element:
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
        return _Frame(self.ident("g"), f"{heading} → {facts}", row.kind, row.path,
                      self.composite(node))

    def composite(self, node: _Row) -> _Element:
        lists = _lists(node)
        before = [rows for key, rows in lists if _field(key) not in SIDE_BY_SIDE | AFTER_MERGE]
        side = [(key, rows) for key, rows in lists if _field(key) in SIDE_BY_SIDE]
        after = [rows for key, rows in lists if _field(key) in AFTER_MERGE]
        parts = [self.sequence(rows) for rows in before]
        if side:
            merged = after[0][0].row.in_shape if after else node.row.out_shape
            outputs = [rows[-1].row.out_shape for _, rows in side]
            bypass = len(side) == 1 and _field(side[0][0]) == "body" and (
                node.row.in_shape == merged)
            if len(side) > 1 or bypass:
                label = "+" if all(shape == merged for shape in outputs) else "concat"
                merge = self.box([label], "merge", "merge", node.row.path)
                columns = [self.sequence(rows) for _, rows in side]
                parts.append(_Fork(columns, bypass, merge, self.edges))
            else:
                parts.append(self.sequence(side[0][1]))
        parts += [self.sequence(rows) for rows in after]
        return parts[0] if len(parts) == 1 else _Stack(parts, self.edges)


def _field(key: str) -> str:
    return key.split("[", 1)[0]


# --- SVG ---

_STYLE = """
.layer rect { fill: #eef4fb; stroke: #3b6ea5; stroke-width: 1.2; }
.layer.composite rect { fill: #f4eefb; stroke: #7a4fa5; }
.input rect { fill: #f3f3f3; stroke: #666; stroke-width: 1.2; }
.merge rect { fill: #fff6e0; stroke: #b7791f; stroke-width: 1.2; }
.frame { fill: none; stroke: #9aa5b1; stroke-dasharray: 5 3; }
.frame-title, .edge-label { fill: #52606d; }
.title-ground { fill: #fff; }
.edge { fill: none; stroke: #52606d; stroke-width: 1.2; }
.edge-label { font-size: 10px; }
text { fill: #1f2933; }
.kind { font-weight: bold; }
"""


def _svg(chart: _Stack, edges: list[_Edge], title: str) -> str:
    margin = 16
    chart.place(margin, margin)
    width, height = chart.width + 2 * margin, chart.height + 2 * margin
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" '
        f'font-size="{FONT_SIZE}">',
        f"<title>{escape(title)}</title>",
        f"<style>{_STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" '
        'fill="#52606d"/></marker></defs>',
    ]
    frames = list(chart.frames())
    for frame in frames:
        out.append(
            f'<rect class="frame" id="{frame.ident}" data-kind="{frame.kind}" '
            f'data-path={quoteattr(frame.path)} x="{frame.x:.1f}" y="{frame.y:.1f}" '
            f'width="{frame.width:.1f}" height="{frame.height:.1f}" rx="6"/>'
        )
    for edge in edges:
        points = _route(edge)
        d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
        out.append(f'<path class="edge" d="{d}" data-from="{edge.source.ident}" '
                   f'data-to="{edge.target.ident}" marker-end="url(#arrow)"/>')
        if edge.label and edge.via:
            mid = (edge.target.y + edge.source.y + edge.source.height) / 2
            out.append(f'<text class="edge-label" x="{edge.via.centre + 3:.1f}" y="{mid:.1f}">'
                       f"{escape(edge.label)}</text>")
    for frame in frames:  # over the edges, on white, so that no edge crosses a title
        x, y = frame.x + GROUP_PAD, frame.y + GROUP_PAD + 9
        out.append(f'<rect class="title-ground" x="{x - 2:.1f}" y="{y - 11:.1f}" '
                   f'width="{len(frame.title) * CHAR_W + 4:.1f}" height="15"/>'
                   f'<text class="frame-title" data-frame="{frame.ident}" x="{x:.1f}" '
                   f'y="{y:.1f}">{escape(frame.title)}</text>')
    for box in chart.boxes():
        out.append(_svg_box(box))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _svg_box(box: _Box) -> str:
    css = box.css
    attributes = (f'class="{css}" id="{box.ident}" data-kind="{escape(box.kind)}" '
                  f"data-path={quoteattr(box.path)}")
    rx = 12 if css == "merge" else 4
    parts = [f"<g {attributes}>",
             f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
             f'height="{box.height:.1f}" rx="{rx}"/>']
    if css == "merge":
        parts.append(f'<text x="{box.centre:.1f}" y="{box.y + 16:.1f}" text-anchor="middle">'
                     f"{escape(box.lines[0])}</text>")
    else:
        parts.append("<text>")
        for index, line in enumerate(box.lines):
            y = box.y + PAD + LINE_H * index + 11
            css_line = ' class="kind"' if index == 0 else ""
            parts.append(f'<tspan x="{box.x + PAD:.1f}" y="{y:.1f}"{css_line}>'
                         f"{escape(line)}</tspan>")
        parts.append("</text>")
    parts.append("</g>")
    return "".join(parts)


def _route(edge: _Edge) -> list[tuple[float, float]]:
    """Down from the source, across just above the target, down into it."""
    x1, y1 = edge.source.centre, edge.source.y + edge.source.height
    x2, y2 = edge.target.centre, edge.target.y
    if edge.via is not None:
        x = edge.via.centre
        return [(x1, y1), (x1, y1 + BEND), (x, y1 + BEND), (x, y2 - BEND),
                (x2, y2 - BEND), (x2, y2)]
    if abs(x1 - x2) < 0.5:
        return [(x1, y1), (x2, y2)]
    bend = y2 - BEND if edge.target.css == "merge" else y1 + BEND  # fan in, fan out
    return [(x1, y1), (x1, bend), (x2, bend), (x2, y2)]


# --- Mermaid ---


def _mermaid(chart: _Stack, edges: list[_Edge]) -> str:
    lines = ["flowchart TD"]

    def label(text: str) -> str:
        return text.replace('"', "#quot;")

    def emit(element: _Element, indent: str) -> None:
        if isinstance(element, _Box):
            text = "<br/>".join(label(line) for line in element.lines)
            shape = f'(("{text}"))' if element.css == "merge" else f'["{text}"]'
            lines.append(f"{indent}{element.ident}{shape}")
        elif isinstance(element, _Frame):
            lines.append(f'{indent}subgraph {element.ident}["{label(element.title)}"]')
            emit(element.content, indent + "  ")
            lines.append(f"{indent}end")
        elif isinstance(element, _Stack):
            for item in element.items:
                emit(item, indent)
        elif isinstance(element, _Fork):
            for column in element.columns:
                emit(column, indent)
            emit(element.merge, indent)

    emit(chart, "  ")
    for edge in edges:
        arrow = f"-->|{edge.label}|" if edge.label else "-->"
        lines.append(f"  {edge.source.ident} {arrow} {edge.target.ident}")
    return "\n".join(lines) + "\n"
