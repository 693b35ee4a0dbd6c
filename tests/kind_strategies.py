"""Hypothesis strategies drawn from a kind's own fields, for any registered kind (a plugin's
too): the fuzz campaign needs no hand-written generator to take part a new kind.

``kind_entries(cls)`` draws spec entries ``{Kind: {args}}``: every required argument and a
random subset of the optional ones (an argument left out keeps its default), each from its
annotation and bounds: ``bool``, ``int`` and ``float`` within their ``ge``/``gt``/``le``/``lt``
(kept within a few steps of the lower bound, so tensors stay small), ``Literal`` choices,
``X | None`` unions. Arguments the kind infers from the input shape are never drawn. A kind
with a required argument of another type has no strategy (None).
"""

from __future__ import annotations

import math
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from hypothesis import strategies as st
from pydantic.fields import FieldInfo

from netspec.layers import Layer

SPAN = 2
"""Integers are drawn from [lowest, lowest + SPAN]: sizes stay small."""


def kind_entries(cls: type[Layer]) -> st.SearchStrategy[dict[str, Any]] | None:
    """Spec entries of kind ``cls`` drawn from its fields, or None when a required field's
    type is not one this module draws."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in cls.model_fields.items():
        if name in cls.netspec_fields or name in cls.inferred:
            continue
        values = value_strategy(info.annotation, list(info.metadata))
        if values is None and info.is_required():
            return None
        if values is not None:
            (required if info.is_required() else optional)[name] = values

    @st.composite
    def entries(draw: st.DrawFn) -> dict[str, Any]:
        args = {name: draw(values) for name, values in required.items()}
        for name, values in optional.items():
            if draw(st.booleans()):
                args[name] = draw(values)
        return {cls.kind: args}

    return entries()


def value_strategy(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any] | None:
    """Values of one annotation with its constraints; None for a type not drawn here."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return value_strategy(args[0], [*metadata, *args[1:]])
    if origin in (Union, UnionType):
        options = [value_strategy(arg, metadata) for arg in args if arg is not NoneType]
        drawn = [option for option in options if option is not None]
        return st.one_of(drawn) if drawn else None
    if origin is Literal:
        return st.sampled_from(args)
    if annotation is bool:
        return st.booleans()
    low, high = _bounds(metadata)
    if annotation is int:
        first = math.ceil(low) if low is not None else 0
        last = min(first + SPAN, math.floor(high)) if high is not None else first + SPAN
        return st.integers(first, last) if first <= last else None
    if annotation is float:
        first = float(low) if low is not None else -2.0
        last = float(high) if high is not None else first + 4.0
        return st.floats(first, last, allow_nan=False, allow_infinity=False)
    return None


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    """The lowest and highest allowed values (exclusive bounds of ints move by one)."""
    low: float | None = None
    high: float | None = None
    for item in _flat(metadata):
        for attribute, step in (("ge", 0), ("gt", 1)):
            value = getattr(item, attribute, None)
            if value is not None:
                low = value + step if low is None else max(low, value + step)
        for attribute, step in (("le", 0), ("lt", 1)):
            value = getattr(item, attribute, None)
            if value is not None:
                high = value - step if high is None else min(high, value - step)
    return low, high


def _flat(metadata: list[Any]) -> list[Any]:
    """``Field(gt=0)`` inside ``Annotated`` holds its bounds in its own metadata."""
    flat: list[Any] = []
    for item in metadata:
        flat += _flat(list(item.metadata)) if isinstance(item, FieldInfo) else [item]
    return flat
