"""The diagram model: boxes, merges, stacks, forks and frames, each measuring and placing itself
(sizes in pixels; ``netspec.views.diagram`` builds the model, ``diagram_render`` draws it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

FONT_SIZE, CHAR_W, LINE_H = 12, 7.3, 15
PAD, V_GAP, H_GAP, BEND = 8, 30, 26, 14
GROUP_PAD, TITLE_H, MIN_BOX_W = 10, 16, 110




@dataclass
class Edge:
    source: Box
    target: Box
    label: str = ""
    via: Bypass | None = None


class Element:
    width: float = 0
    height: float = 0
    x: float = 0
    y: float = 0

    def place(self, x: float, y: float) -> None:
        self.x, self.y = x, y

    def entries(self) -> list[tuple[Box, Bypass | None]]:
        raise NotImplementedError

    def exits(self) -> list[Box]:
        raise NotImplementedError

    def boxes(self) -> Iterator[Box]:
        raise NotImplementedError

    def frames(self) -> Iterator[Frame]:
        return iter(())


class Box(Element):
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

    def entries(self) -> list[tuple[Box, Bypass | None]]:
        return [(self, None)]

    def exits(self) -> list[Box]:
        return [self]

    def boxes(self) -> Iterator[Box]:
        yield self


class Stack(Element):
    """Elements top to bottom, centred, each joined to the next."""

    def __init__(self, items: list[Element], edges: list[Edge]) -> None:
        self.items = items
        for upper, lower in pairwise(items):
            for source in upper.exits():
                for target, via in lower.entries():
                    edges.append(Edge(source, target, "identity" if via else "", via))
        self.width = max(item.width for item in items)
        self.height = sum(item.height for item in items) + V_GAP * (len(items) - 1)

    def place(self, x: float, y: float) -> None:
        super().place(x, y)
        for item in self.items:
            item.place(x + (self.width - item.width) / 2, y)
            y += item.height + V_GAP

    def entries(self) -> list[tuple[Box, Bypass | None]]:
        return self.items[0].entries()

    def exits(self) -> list[Box]:
        return self.items[-1].exits()

    def boxes(self) -> Iterator[Box]:
        for item in self.items:
            yield from item.boxes()

    def frames(self) -> Iterator[Frame]:
        for item in self.items:
            yield from item.frames()


class Bypass(Element):
    """An identity path beside a residual body: an edge, no box."""

    width = 2 * H_GAP

    def __init__(self, merge: Box) -> None:
        self.merge = merge

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


class Fork(Element):
    """Columns on the same input, side by side, meeting in a merge node."""

    def __init__(self, columns: list[Element], bypass: bool, merge: Box,
                 edges: list[Edge]) -> None:
        self.columns, self.merge = columns, merge
        self.bypass = Bypass(merge) if bypass else None
        for column in columns:
            for source in column.exits():
                edges.append(Edge(source, merge))
        parts: list[Element] = [*columns, *([self.bypass] if self.bypass else [])]
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

    def entries(self) -> list[tuple[Box, Bypass | None]]:
        found = [entry for column in self.columns for entry in column.entries()]
        return found + ([(self.merge, self.bypass)] if self.bypass else [])

    def exits(self) -> list[Box]:
        return [self.merge]

    def boxes(self) -> Iterator[Box]:
        for column in self.columns:
            yield from column.boxes()
        yield self.merge

    def frames(self) -> Iterator[Frame]:
        for column in self.columns:
            yield from column.frames()


class Frame(Element):
    """A composite layer: its title, and its contents inside a dashed frame."""

    def __init__(self, ident: str, title: str, kind: str, path: str, content: Element) -> None:
        self.ident, self.title, self.kind, self.path = ident, title, kind, path
        self.content = content
        self.width = max(content.width, len(title) * CHAR_W) + 2 * GROUP_PAD
        self.height = content.height + 2 * GROUP_PAD + TITLE_H

    def place(self, x: float, y: float) -> None:
        super().place(x, y)
        self.content.place(x + (self.width - self.content.width) / 2, y + GROUP_PAD + TITLE_H)

    def entries(self) -> list[tuple[Box, Bypass | None]]:
        return self.content.entries()

    def exits(self) -> list[Box]:
        return self.content.exits()

    def boxes(self) -> Iterator[Box]:
        return self.content.boxes()

    def frames(self) -> Iterator[Frame]:
        yield self
        yield from self.content.frames()
