"""One row of the analysis per layer, and the walk that produces the rows in order.

Composite kinds (groups, residual blocks, branches) walk their own children with the same
``walk``, so a nested network gives nested rows (``depth``) from one linear pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import NetspecError, Problem, SpecError, SpecPath
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


def walk(
    layers: tuple[Layer, ...] | list[Layer],
    in_shape: Shape,
    rf: RF,
    prefix: SpecPath,
    depth: int = 0,
) -> tuple[list[LayerReport], Shape, RF]:
    """Analyse ``layers`` in order from ``in_shape``; errors carry each layer's spec path."""
    rows: list[LayerReport] = []
    shape = in_shape
    names: set[str] = set()
    for index, layer in enumerate(layers):
        path = (*prefix, index)
        name = layer.name or str(index)
        if name in names:
            raise SpecError(Problem(
                f"two layers here are named {name!r}; module names must be unique",
                (*path, layer.kind, "name"),
            ))
        names.add(name)
        try:
            layer_rows = layer.report(shape, rf, index=index, name=name, path=path, depth=depth)
        except NetspecError as error:
            raise error.within((*path, layer.kind)) from None
        rows.extend(layer_rows)
        shape, rf = layer_rows[0].out_shape, layer_rows[0].rf
    return rows, shape, rf
