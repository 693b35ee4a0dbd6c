"""One row of the analysis per layer, and the walk that produces the rows in order.

Composite kinds (groups, residual blocks, branches) walk their own children with the same
``walk``, so a nested network gives nested rows (``depth``) from one linear pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .causes import explain
from .errors import NetspecError, Problem, SpecError, SpecPath
from .limits import check_values
from .shapes import AxisRF, Shape, number

if TYPE_CHECKING:
    from .layers.base import Layer

RF = tuple[AxisRF, ...]


@dataclass(frozen=True)
class LayerReport:
    """What one layer does to one input sample."""

    index: int
    path: str
    name: str
    kind: str
    in_shape: Shape
    out_shape: Shape
    trainable_params: int
    non_trainable_params: int
    buffers: int
    macs: int
    rf: RF
    depth: int = 0
    layer: Layer | None = field(default=None, compare=False, repr=False)
    """The layer this row describes (what lints and explanations ask), or None."""
    in_rf: RF = field(default=(), compare=False, repr=False)
    """The receptive field of this layer's input."""

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "path": self.path,
            "name": self.name,
            "kind": self.kind,
            "depth": self.depth,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
            "params": self.params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "buffers": self.buffers,
            "macs": self.macs,
            "receptive_field": rf_to_dicts(self.rf),
        }


def rf_to_dicts(rf: RF) -> list[dict[str, Any]]:
    return [
        {"size": number(a.size), "jump": number(a.jump), "start": number(a.start)} for a in rf
    ]


def expanded(layers: Sequence[Layer]) -> Iterator[tuple[SpecPath, Layer]]:
    """Each layer with its spec path within ``layers``; ``Repeat`` entries are spliced in.

    A repeated layer's path is its place in the ``Repeat`` (``3.Repeat.layers.0``), so errors in
    any copy point at the line that wrote it.
    """
    for index, layer in enumerate(layers):
        for suffix, leaf in layer.expand():
            yield (index, *suffix), leaf


def walk(
    layers: Sequence[Layer],
    in_shape: Shape,
    rf: RF,
    prefix: SpecPath,
    depth: int = 0,
) -> tuple[list[LayerReport], Shape, RF]:
    """Analyse ``layers`` in order from ``in_shape``.

    Rows are named by ``name:`` or by their position in the (expanded) list, as ``nn.Sequential``
    names them. Errors carry spec paths relative to ``layers``; ``prefix`` is only for display.
    """
    rows: list[LayerReport] = []
    shape = in_shape
    names: set[str] = set()
    for position, (path, layer) in enumerate(expanded(layers)):
        name = layer.name or str(position)
        if name in names:
            raise SpecError(Problem(
                f"two layers in this list are named {name!r} (a named layer inside Repeat is "
                "named once per copy); module names must be unique",
                (*path, layer.kind, "name"),
            ))
        names.add(name)
        try:
            layer_rows = layer.report(
                shape, rf, index=position, name=name, path=(*prefix, *path), depth=depth
            )
        except NetspecError as error:
            history = [row for row in rows if row.depth == depth]
            raise explain(error, layer, shape, history).within((*path, layer.kind)) from None
        check_values(layer_rows[0].out_shape, layer_rows[0].params, (*path, layer.kind), "output")
        rows.extend(layer_rows)
        shape, rf = layer_rows[0].out_shape, layer_rows[0].rf
    return rows, shape, rf
