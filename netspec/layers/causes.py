"""When a layer fails because of an earlier layer's choice, say which.

The walker asks this module after a layer rejects its input. Nothing here names a layer kind:
the answer comes from asking the failing layer itself whether it would have accepted the input
that an earlier layer received (``output_shape`` is pure and cheap):

- **Sizes.** If the layer accepts the spatial sizes an earlier layer received (with its own
  channels), the input became too small on the way. The cause is the last layer after which
  the sizes no longer fit, e.g. a pool that took 7x7 to 3x3 before a 5x5 convolution; the
  layer that shrank the sizes most is named too, when it is another one.
- **Layout.** If the layer accepts the input of the last layer that changed the number of dims
  (a ``Flatten`` placed too early), that layer is named.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import replace
from math import prod
from typing import TYPE_CHECKING

from netspec.core.errors import NetspecError

if TYPE_CHECKING:
    from netspec.core.shapes import Shape
from netspec.layers.base import Layer, LayerReport
from netspec.layers.plugins import plugin_rule

MARK = "; earlier, "
"""Begins every note, so that an enclosing list does not explain the same failure again."""

_probing: ContextVar[bool] = ContextVar("probing", default=False)


def explain(
    error: NetspecError, layer: Layer, in_shape: Shape, history: Sequence[LayerReport]
) -> NetspecError:
    """``error`` with a note on its first problem naming the earlier layer that caused it.

    ``history`` holds the rows of the layers before ``layer`` in the same list, in order.
    Unchanged when no earlier layer is to blame, or when an inner list already said which.
    """
    if _probing.get() or not error.problems or not history:
        return error
    first = error.problems[0]
    if MARK in first.message:
        return error
    note = _smaller(layer, in_shape, history) or _relaid(layer, in_shape, history)
    if note is None:
        return error
    problems = (replace(first, message=first.message + MARK + note), *error.problems[1:])
    return type(error)(problems)


def _smaller(layer: Layer, in_shape: Shape, history: Sequence[LayerReport]) -> str | None:
    """The layer after which the spatial sizes became too small for ``layer``."""
    if len(in_shape) < 2:
        return None
    same_rank: list[LayerReport] = []
    for row in reversed(history):
        if len(row.in_shape) != len(in_shape) or len(row.out_shape) != len(in_shape):
            break
        same_rank.append(row)
    sizes = in_shape[1:]
    for row in same_rank:  # latest first
        before, after = row.in_shape[1:], row.out_shape[1:]
        if before == after or not all(b >= s for b, s in zip(before, sizes, strict=True)):
            continue
        if _accepts(layer, (in_shape[0], *before)):
            note = f"{_name(row)} took the spatial size from {_size(before)} to {_size(after)}"
            most = max(same_rank, key=_reduction)
            if most is not row and _reduction(most) > 1:
                note += (f"; the largest reduction is {_name(most)}, from "
                         f"{_size(most.in_shape[1:])} to {_size(most.out_shape[1:])}")
            return note
    return None


def _relaid(layer: Layer, in_shape: Shape, history: Sequence[LayerReport]) -> str | None:
    """The last layer that changed the number of dims, if ``layer`` accepts what it received."""
    for row in reversed(history):
        if len(row.in_shape) == len(row.out_shape):
            continue
        if len(row.in_shape) != len(in_shape) and _accepts(layer, row.in_shape):
            return (f"{_name(row)} turned {list(row.in_shape)} into {list(row.out_shape)}; this "
                    f"layer would take {list(row.in_shape)}")
        return None
    return None


def _accepts(layer: Layer, shape: Shape) -> bool:
    """Whether ``layer`` takes ``shape``; failures inside a probe are not explained in turn."""
    token = _probing.set(True)
    try:
        with plugin_rule(layer, "shape rule"):
            layer.output_shape(shape)
    except NetspecError:
        return False
    finally:
        _probing.reset(token)
    return True


def _reduction(row: LayerReport) -> float:
    return prod(row.in_shape[1:]) / max(prod(row.out_shape[1:]), 1)


def _name(row: LayerReport) -> str:
    return f"{row.path} ({row.kind})"


def _size(sizes: Sequence[int]) -> str:
    return "x".join(str(size) for size in sizes)
