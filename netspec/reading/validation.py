"""Pydantic's validation errors, rewritten for people: located, with received values and hints.

Pydantic's ``loc`` tuples include union member tags that are not in the document
(``kernel_size.int``); each one is mapped to the nearest part of the spec that exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from netspec.core.errors import LimitError, Problem, SpecError, SpecPath, did_you_mean
from netspec.layers.registry import is_kind, kind_of
from netspec.reading.expressions import names_in
from netspec.reading.spec import SourceMap, Spec
from netspec.reading.yaml_source import MAX_DEPTH, MAX_NODES, Positions

_SCALARS = (str, int, float, bool, type(None))
_MAX_INT_BITS = 128
"""No size, count or index in a spec comes near 2^128; a bigger int given in Python is refused
before any message tries to print its digits (Python stops at 4,300)."""


def data_paths(data: Any) -> Positions:
    """Every path in a spec given in Python (a dict), without positions.

    Walked as the YAML reader walks a document, and with its limits, before anything else
    looks at the data: at most ``MAX_NODES`` values, a sub-object that several parents share
    counted at every use (as a YAML alias is, so lists that share sub-lists cannot expand to
    2^40 paths), at most ``MAX_DEPTH`` levels, no object inside itself, and only plain data
    (dicts, lists, tuples, strings, numbers, booleans, None) or layer objects. Iterative, so no
    shape of data can exhaust the stack. Raises ``SpecError`` (``LimitError`` for the limits).
    """
    paths: Positions = {}
    stack: list[tuple[Any, SpecPath, tuple[int, ...]]] = [(data, (), ())]
    while stack:
        value, path, ancestors = stack.pop()
        if len(paths) >= MAX_NODES:
            raise LimitError(Problem(
                f"spec has more than {MAX_NODES:,} values (a shared list or dict counted each "
                "time it is used); refusing to expand it", path[:4]))
        if len(path) > MAX_DEPTH:
            raise LimitError(Problem(f"spec nests deeper than {MAX_DEPTH} levels", path[:4]))
        paths[path] = None
        if isinstance(value, dict | list | tuple):
            if id(value) in ancestors:
                raise SpecError(Problem(
                    f"this {type(value).__name__} contains itself: a spec is a tree, not a "
                    "cycle", path))
            inside = (*ancestors, id(value))
            items = list(value.items() if isinstance(value, dict) else enumerate(value))
            for key, item in reversed(items):
                if isinstance(value, dict):
                    _check_plain(key, path, "a key")
                stack.append((item, (*path, key), inside))
        else:
            _check_plain(value, path, "a value")
    return paths


def _check_plain(value: Any, path: SpecPath, what: str) -> None:
    """Refuse what a spec cannot hold, before any message prints it (``repr`` may raise)."""
    if isinstance(value, BaseModel) and what == "a value":
        return  # a layer object, as netspec.layers makes them
    if not isinstance(value, _SCALARS):
        raise SpecError(Problem(
            f"{what} of type {type(value).__name__}: a spec holds plain data (dicts, lists, "
            "strings, numbers, booleans, None)", path))
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise SpecError(Problem(
            f"{what} is an integer of {value.bit_length():,} bits; no size in a spec needs more "
            f"than {_MAX_INT_BITS}", path))
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SpecError(Problem(
                f"{what} holds a lone surrogate, which is no Unicode character and cannot be "
                f"printed: {value.encode('utf-8', 'backslashreplace').decode()[:60]!r}",
                path)) from None


def spec_error(error: ValidationError, source: SourceMap, root: type[BaseModel]) -> SpecError:
    """One ``SpecError`` holding a located problem per distinct path, sorted by position."""
    merged: dict[SpecPath, list[str]] = {}
    details = error.errors(include_url=False)
    typos = _typo_targets(details, source, root)
    for detail in details:
        if detail["type"] == "missing" and tuple(detail["loc"]) in typos:
            continue  # "kernel_size is required" is the same mistake as "kernal_size?"
        path, message = _describe(detail, source, root)
        messages = merged.setdefault(path, [])
        if message not in messages:
            messages.append(message)
    problems = [
        source.locate(Problem(_join(messages), path)) for path, messages in merged.items()
    ]
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return SpecError(problems)


def _typo_targets(details: Any, source: SourceMap, root: type[BaseModel]) -> set[SpecPath]:
    """Locations of required fields that an unknown, misspelt key was meant to be."""
    targets: set[SpecPath] = set()
    for detail in details:
        if detail["type"] == "extra_forbidden":
            loc = tuple(detail["loc"])
            model, _ = _model_at(source.nearest(loc[:-1]), root)
            guess = did_you_mean(str(loc[-1]), _field_names(model))
            if guess:
                targets.add((*loc[:-1], guess))
    return targets


def _join(messages: list[str]) -> str:
    """Union members fail together: 'Input should be a valid integer or a valid tuple'."""
    first, *rest = messages
    prefix = "Input should be "
    extra = [m.removeprefix(prefix) if first.startswith(prefix) else m for m in rest]
    if not extra:
        return first
    head, _, received = first.partition("; received ")
    tails = [m.partition("; received ")[0] for m in extra]
    return " or ".join([head, *tails]) + (f"; received {received}" if received else "")


def _describe(detail: Any, source: SourceMap, root: type[BaseModel]) -> tuple[SpecPath, str]:
    loc: SpecPath = tuple(detail["loc"])
    kind_type = detail["type"]
    path = source.nearest(loc)
    model, owner = _model_at(path, root)
    if kind_type == "missing":
        field = loc[-1]
        path = (*path, field) if path[-1:] != (field,) else path
        return path, f"{field} is required{owner}"
    if kind_type == "extra_forbidden":
        key = str(loc[-1])
        guess = did_you_mean(key, _field_names(model))
        accepted = ", ".join(_field_names(model))
        hint = f"; did you mean {guess}?" if guess else f"; accepted: {accepted}"
        return path, f"unknown argument {key!r}{owner}{hint}"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if kind_type != "value_error":
        received = detail.get("input")
        message += f"; received {_short(received)}"
        if kind_type in _NUMBER_ERRORS and isinstance(received, str) and names_in(received):
            message += " (not a number, and no parameter of that name is defined in `params:`)"
        if kind_type in _INTEGER_ERRORS and isinstance(received, float):
            message += (" (an integer is needed; `/` always gives a float: use // for integer "
                        "division)")
    return path, message


_NUMBER_ERRORS = frozenset({"int_type", "int_parsing", "float_type", "float_parsing"})
_INTEGER_ERRORS = frozenset({"int_type", "int_from_float"})


def _model_at(path: SpecPath, root: type[BaseModel]) -> tuple[type[BaseModel], str]:
    """The model whose fields live at ``path``: the innermost layer kind named there."""
    for part in reversed(path):
        if isinstance(part, str) and is_kind(part):
            return kind_of(part), f" for {part}"
    return root, ""


def _field_names(model: type[BaseModel]) -> Iterable[str]:
    return list(model.model_fields)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate(data: Any, source: SourceMap) -> Spec:
    """Schema validation of plain data; every problem located in ``source``."""
    if not isinstance(data, dict):
        received = type(data).__name__
        raise SpecError(source.locate(Problem(
            f"a spec is a mapping with `input:` and `layers:`; received a {received}")))
    try:
        spec = Spec.model_validate(data)
    except ValidationError as error:
        raise spec_error(error, source, Spec) from None
    return spec.with_source(source)
