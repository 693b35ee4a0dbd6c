"""``netspec draw``: the SVG parsed as XML (boxes, labels, edges, frames), and Mermaid."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import netspec
from netspec.views.diagram import TIMES as X
from tests.golden_files import UPDATE

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
DOC_SPEC, DOC_SVG = ROOT / "docs" / "resnet_block.yaml", ROOT / "docs" / "resnet_block.svg"
BRANCHES = """
name: branches
input: [3, 16, 16]
layers:
  - Conv2d: {out_channels: 8, kernel_size: 3, padding: 1, name: stem}
  - Parallel:
      branches:
        - [{Conv2d: {out_channels: 4, kernel_size: 1}}, ReLU]
        - [{MaxPool2d: {kernel_size: 3, stride: 1, padding: 1}}]
  - Residual:
      body: [{Conv2d: {out_channels: 12, kernel_size: 3, padding: 1}}]
  - Repeat: {times: 2, layers: [ReLU]}
  - Flatten
  - Linear: {out_features: 10}
"""


class Drawing:
    """The parts of a drawn SVG that a reader sees."""

    def __init__(self, text: str) -> None:
        self.root = ET.fromstring(text)
        self.groups = {g.get("id"): g for g in self.root.iter(f"{SVG}g")}
        self.edges = [p for p in self.root.iter(f"{SVG}path") if p.get("class") == "edge"]
        self.frames = [r for r in self.root.iter(f"{SVG}rect") if r.get("class") == "frame"]

    def boxes(self, css: str = "layer") -> list[ET.Element]:
        return [g for g in self.groups.values() if css in (g.get("class") or "").split()]

    def lines(self, group: ET.Element) -> list[str]:
        return [t.text or "" for t in group.iter(f"{SVG}tspan")] or [
            t.text or "" for t in group.iter(f"{SVG}text")]

    def rect(self, ident: str) -> tuple[float, float, float, float]:
        rect = self.groups[ident].find(f"{SVG}rect")
        assert rect is not None
        x, y, width, height = (float(rect.get(k, 0)) for k in ("x", "y", "width", "height"))
        return x, y, width, height

    def points(self, edge: ET.Element) -> list[tuple[float, float]]:
        pairs = re.findall(r"([\d.]+),([\d.]+)", edge.get("d", ""))
        return [(float(x), float(y)) for x, y in pairs]


def test_one_box_per_layer_with_kind_arguments_shape_and_field() -> None:
    spec = netspec.load(BRANCHES)
    drawing = Drawing(netspec.draw(spec))
    report = netspec.analyze(spec).layers
    leaves = [row for i, row in enumerate(report)
              if not (i + 1 < len(report) and report[i + 1].depth > row.depth)]
    boxes = drawing.boxes()
    assert [b.get("data-kind") for b in boxes] == [row.kind for row in leaves]
    for box, row in zip(boxes, leaves, strict=True):
        lines = drawing.lines(box)
        assert lines[0].split()[0] == row.kind
        assert X.join(map(str, row.out_shape)) in lines[-1]
    stem = drawing.lines(boxes[0])
    assert stem == ["Conv2d stem", "8, k3, p1", f"8{X}16{X}16 · RF 3{X}3"]
    assert drawing.lines(boxes[-1])[-1] == "10 · RF whole"
    assert [f.get("data-kind") for f in drawing.frames] == ["Parallel", "Residual"]
    assert [drawing.lines(m)[0] for m in drawing.boxes("merge")] == ["concat", "+"]


def test_edges_join_boxes_top_to_bottom_and_branches_sit_side_by_side() -> None:
    drawing = Drawing(netspec.draw(BRANCHES))
    ids = set(drawing.groups)
    incoming: dict[str, int] = {}
    for edge in drawing.edges:
        source, target = edge.get("data-from"), edge.get("data-to")
        assert source in ids and target in ids
        incoming[target] = incoming.get(target, 0) + 1  # type: ignore[index]
        (x1, y1), (x2, y2) = drawing.points(edge)[0], drawing.points(edge)[-1]
        sx, sy, sw, sh = drawing.rect(source)  # type: ignore[arg-type]
        tx, ty, tw, _ = drawing.rect(target)  # type: ignore[arg-type]
        assert y1 == pytest.approx(sy + sh) and sx <= x1 <= sx + sw  # leaves a bottom
        assert y2 == pytest.approx(ty) and tx <= x2 <= tx + tw  # enters a top
        assert y2 > y1
    boxes = [g.get("id") for g in drawing.boxes("layer") + drawing.boxes("merge")]
    assert all(incoming.get(b) for b in boxes), "every layer has an incoming edge"
    concat, add = (m.get("id") for m in drawing.boxes("merge"))
    assert incoming[concat] == 2  # two branches
    assert incoming[add] == 2  # body and the identity path
    branch_conv, branch_pool = drawing.boxes()[1], drawing.boxes()[3]
    assert branch_pool.get("data-kind") == "MaxPool2d"
    (x1, y1, w1, _), (x2, y2, _, _) = (drawing.rect(b.get("id", "")) for b in
                                       (branch_conv, branch_pool))
    assert y1 == y2 and x2 >= x1 + w1, "branches side by side"
    labels = [t.text for t in drawing.root.iter(f"{SVG}text") if t.get("class") == "edge-label"]
    assert labels == ["identity"]


def test_depth_draws_nested_layers_as_one_box() -> None:
    drawing = Drawing(netspec.draw(BRANCHES, depth=0))
    assert not drawing.frames
    kinds = [b.get("data-kind") for b in drawing.boxes()]
    assert kinds == ["Conv2d", "Parallel", "Residual", "ReLU", "ReLU", "Flatten", "Linear"]
    assert len(drawing.edges) == len(kinds)  # input -> first, then one per pair


def test_mermaid_has_the_same_nodes_and_edges() -> None:
    svg = Drawing(netspec.draw(BRANCHES))
    mermaid = netspec.draw(BRANCHES, format="mermaid")
    lines = mermaid.splitlines()
    assert lines[0] == "flowchart TD"
    edges = [line for line in lines if "-->" in line]
    assert len(edges) == len(svg.edges)
    assert any(re.fullmatch(r"\s+n\d+ -->\|identity\| n\d+", line) for line in edges)
    assert sum("subgraph" in line for line in lines) == 2
    assert f'["Conv2d stem<br/>8, k3, p1<br/>8{X}16{X}16 · RF 3{X}3"]' in mermaid
    assert '(("concat"))' in mermaid


def test_bundled_specs_draw_as_well_formed_svg() -> None:
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        drawing = Drawing(netspec.draw(path))
        rows = netspec.analyze(netspec.load(path)).layers
        assert len(drawing.boxes()) + len(drawing.frames) == len(rows), path.name


def test_the_picture_in_the_docs_is_current() -> None:
    text = netspec.draw(DOC_SPEC)
    if UPDATE:
        DOC_SVG.write_text(text, encoding="utf-8")
    assert DOC_SVG.read_text(encoding="utf-8") == text, (
        "docs/resnet_block.svg is out of date: netspec draw docs/resnet_block.yaml "
        "-o docs/resnet_block.svg")


def test_draw_command_writes_svg_and_prints_mermaid_without_torch(tmp_path: Path) -> None:
    out = tmp_path / "net.svg"
    code = ("import sys\nfrom netspec.cli import main\n"
            f"status = main(['draw', {str(DOC_SPEC)!r}, '-o', {str(out)!r}])\n"
            f"status += main(['draw', {str(DOC_SPEC)!r}, '--format', 'mermaid'])\n"
            "assert 'torch' not in sys.modules, 'draw imported torch'\nsys.exit(status)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert out.read_text(encoding="utf-8") == DOC_SVG.read_text(encoding="utf-8")
    assert run.stdout.startswith("flowchart TD\n")
