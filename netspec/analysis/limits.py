"""The limits on a whole spec, checked before the work they bound: how far it expands (``Repeat``
copies and blocks counted without expanding them), how deep composites nest, and how much memory
``build`` would allocate. The numbers are ``netspec.core.limits``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from math import prod

from netspec.core.errors import LimitError
from netspec.core.limits import (
    MAX_LAYERS,
    MAX_NESTING,
    MAX_VALUES,
    too_many,
)
from netspec.layers.base import Layer
from netspec.layers.composite import module_count
from netspec.reading.spec import Spec


def check_size(spec: Spec) -> None:
    """Refuse a spec that expands past ``MAX_LAYERS`` or nests past ``MAX_NESTING``.

    Counts without expanding: a ``Repeat`` counts its layers once, times ``times``.
    """
    if prod(spec.input) > MAX_VALUES:
        raise LimitError(spec.source.problem(("input",), too_many("the input", spec.input)))
    total = 0
    largest: tuple[int, int] = (0, 0)
    for index, layer in enumerate(spec.layers):
        depth = _nesting(layer)
        count = module_count(layer)
        total += count
        largest = max(largest, (count, index))
        if depth > MAX_NESTING:
            raise LimitError(spec.source.problem(("layers", index, layer.kind), (
                f"composite layers nest {depth} deep here; the limit is {MAX_NESTING}")))
    if total > MAX_LAYERS:
        count, index = largest
        raise LimitError(spec.source.problem(("layers", index, spec.layers[index].kind), (
            f"the spec expands to {total:,} layers (Repeat copies and blocks counted); the "
            f"limit is {MAX_LAYERS:,}; this entry alone expands to {count:,}")))


def _children(layer: Layer) -> Iterator[Sequence[Layer]]:
    """The layer lists a composite holds (body, shortcut, post, each branch...)."""
    for key in type(layer).model_fields:
        value = getattr(layer, key)
        if not isinstance(value, tuple):
            continue
        if all(isinstance(item, Layer) for item in value):
            yield value
        elif all(isinstance(item, tuple) for item in value):
            yield from (v for v in value if all(isinstance(i, Layer) for i in v))


def _nesting(layer: Layer) -> int:
    """How many composite layers are nested here, this one included (0 for a leaf)."""
    depths = [_nesting(child) for layers in _children(layer) for child in layers]
    return 1 + max(depths, default=0) if getattr(layer, "composite", False) else 0


