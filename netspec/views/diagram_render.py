"""The diagram model drawn as SVG (top to bottom) or as a Mermaid flowchart."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from netspec.views.diagram_model import (
    BEND,
    CHAR_W,
    FONT_SIZE,
    GROUP_PAD,
    LINE_H,
    PAD,
    Box,
    Edge,
    Element,
    Fork,
    Frame,
    Stack,
)

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


def svg(chart: Stack, edges: list[Edge], title: str) -> str:
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


def _svg_box(box: Box) -> str:
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


def _route(edge: Edge) -> list[tuple[float, float]]:
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


def mermaid(chart: Stack, edges: list[Edge]) -> str:
    lines = ["flowchart TD"]

    def label(text: str) -> str:
        return text.replace('"', "#quot;")

    def emit(element: Element, indent: str) -> None:
        if isinstance(element, Box):
            text = "<br/>".join(label(line) for line in element.lines)
            shape = f'(("{text}"))' if element.css == "merge" else f'["{text}"]'
            lines.append(f"{indent}{element.ident}{shape}")
        elif isinstance(element, Frame):
            lines.append(f'{indent}subgraph {element.ident}["{label(element.title)}"]')
            emit(element.content, indent + "  ")
            lines.append(f"{indent}end")
        elif isinstance(element, Stack):
            for item in element.items:
                emit(item, indent)
        elif isinstance(element, Fork):
            for column in element.columns:
                emit(column, indent)
            emit(element.merge, indent)

    emit(chart, "  ")
    for edge in edges:
        arrow = f"-->|{edge.label}|" if edge.label else "-->"
        lines.append(f"  {edge.source.ident} {arrow} {edge.target.ident}")
    return "\n".join(lines) + "\n"
