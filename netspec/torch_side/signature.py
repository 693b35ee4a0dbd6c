"""Module signatures: what must match for two torch modules to be the same network (class,
constructor arguments, children, parameter and buffer shapes), and the first difference."""

from __future__ import annotations

from typing import Any

from torch import nn


def signature(module: nn.Module) -> tuple[Any, ...]:
    """Class, constructor attributes, parameter and buffer shapes, children: what ``build`` of
    a spec must reproduce. Device, dtype and values are not part of it."""
    attributes = tuple(sorted(
        (key, tuples(value)) for key, value in vars(module).items()
        if not key.startswith("_") and key != "training" and _is_plain(value)
    ))
    parameters = tuple(
        (key, None if p is None else (tuple(p.shape), p.requires_grad))
        for key, p in module._parameters.items()
    )
    buffers = tuple(
        (key, None if b is None else tuple(b.shape)) for key, b in module._buffers.items()
    )
    children = tuple(
        (key, None if child is None else signature(child))
        for key, child in module._modules.items()
    )
    return (type(module), attributes, parameters, buffers, children)


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    return isinstance(value, list | tuple) and all(_is_plain(item) for item in value)


def difference(expected: tuple[Any, ...], built: tuple[Any, ...], path: str = "") -> str:
    """The first difference between two signatures, for a person."""
    where = f" at {path}" if path else ""
    if expected[0] is not built[0]:
        return f"the module is a {expected[0].__name__}, the spec builds a {built[0].__name__}"
    for label, index in (("attribute", 1), ("parameter", 2), ("buffer", 3)):
        mine, theirs = dict(expected[index]), dict(built[index])
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key, "missing") != theirs.get(key, "missing"):
                return (f"{label} {key}{where} is {_shown(mine.get(key, 'missing'))} in the "
                        f"module, {_shown(theirs.get(key, 'missing'))} in the spec's build")
    mine, theirs = dict(expected[4]), dict(built[4])
    if list(mine) != list(theirs):
        return f"children{where} are {list(mine)} in the module, {list(theirs)} in the spec's build"
    for key, child in mine.items():
        other = theirs[key]
        if child != other:
            if child is None or other is None:
                return f"child {key}{where} is missing on one side"
            return difference(child, other, f"{path}.{key}" if path else key)
    return "no difference"


def _shown(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bool):
        shape, grad = value
        return f"shape {list(shape)}{'' if grad else ' (frozen)'}"
    return repr(value)


def tuples(value: Any) -> Any:
    """Lists as tuples, at any depth: torch stores ``(3, 3)`` where a spec writes ``[3, 3]``."""
    if isinstance(value, list | tuple):
        return tuple(tuples(item) for item in value)
    return value
