"""Walk a spec without running anything: per layer shapes, parameters, MACs, receptive field.

No torch here: every number comes from the formulas on the layer kinds, so ``netspec check``
stays fast. Totals are sums over layers; the final receptive field is the last layer's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import NetspecError, Problem, SpecError, SpecPath, format_path
from .layers import Layer
from .shapes import AxisRF, Shape, number
from .spec import Spec

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


@dataclass(frozen=True)
class Report:
    """The analysis of a whole spec: one ``LayerReport`` per layer and the totals."""

    name: str | None
    input_shape: Shape
    layers: tuple[LayerReport, ...]
    rf: RF = field(default=())

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].out_shape if self.layers else self.input_shape

    @property
    def trainable_params(self) -> int:
        return sum(layer.trainable_params for layer in self.top_level())

    @property
    def non_trainable_params(self) -> int:
        return sum(layer.non_trainable_params for layer in self.top_level())

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    @property
    def buffers(self) -> int:
        return sum(layer.buffers for layer in self.top_level())

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.top_level())

    def top_level(self) -> tuple[LayerReport, ...]:
        """Rows of depth 0: nested rows are already counted in their container's row."""
        return tuple(layer for layer in self.layers if layer.depth == 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "layers": [layer.to_dict() for layer in self.layers],
            "totals": {
                "params": self.params,
                "trainable_params": self.trainable_params,
                "non_trainable_params": self.non_trainable_params,
                "buffers": self.buffers,
                "macs": self.macs,
                "receptive_field": rf_to_dicts(self.rf),
            },
        }


def rf_to_dicts(rf: RF) -> list[dict[str, Any]]:
    return [
        {"size": number(a.size), "jump": number(a.jump), "start": number(a.start)} for a in rf
    ]


def input_rf(shape: Shape) -> RF:
    """The receptive field of the input itself: one pixel per spatial axis ([C, *spatial])."""
    return tuple(AxisRF() for _ in shape[1:])


def analyze(spec: Spec) -> Report:
    """Shapes, parameters, buffers, MACs and receptive field of every layer. No torch.

    Raises ``SpecError`` at the first layer that cannot take its input, located in the spec.
    """
    try:
        rows, _, rf = walk(spec.layers, tuple(spec.input), input_rf(tuple(spec.input)), ("layers",))
    except NetspecError as error:
        raise type(error)([spec.source.locate(p) for p in error.problems]) from None
    return Report(spec.name, tuple(spec.input), tuple(rows), rf)


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
            out_shape = layer.output_shape(shape)
            out_rf = layer.receptive_field(rf, shape)
            params = layer.parameters(shape)
            row = LayerReport(
                index=index,
                path=format_path(path),
                name=name,
                kind=layer.kind,
                in_shape=shape,
                out_shape=out_shape,
                trainable_params=params.trainable,
                non_trainable_params=params.non_trainable,
                buffers=layer.buffer_count(shape),
                macs=layer.macs(shape, out_shape),
                rf=out_rf,
                depth=depth,
            )
        except NetspecError as error:
            raise error.within((*path, layer.kind)) from None
        rows.append(row)
        shape, rf = out_shape, out_rf
    return rows, shape, rf
