"""The walk: a list of layers analysed in order, one row per layer (nested rows for composites).

Composite kinds (groups, residual blocks, branches) walk their own children with the same
``walk``, so a nested network gives nested rows (``depth``) from one linear pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from netspec.core.errors import NetspecError, Problem, SpecError, SpecPath
from netspec.core.limits import check_values
from netspec.core.shapes import Shape
from netspec.layers.base import RF, Layer, LayerReport
from netspec.layers.causes import explain
from netspec.layers.plugins import checked_row, plugin_rule


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
            with plugin_rule(layer, "shape rule or counts"):
                layer_rows = layer.report(
                    shape, rf, index=position, name=name, path=(*prefix, *path), depth=depth
                )
                layer_rows[0] = checked_row(layer, layer_rows[0])
        except NetspecError as error:
            history = [row for row in rows if row.depth == depth]
            raise explain(error, layer, shape, history).within((*path, layer.kind)) from None
        check_values(layer_rows[0].out_shape, layer_rows[0].params, (*path, layer.kind), "output")
        rows.extend(layer_rows)
        shape, rf = layer_rows[0].out_shape, layer_rows[0].rf
    return rows, shape, rf
