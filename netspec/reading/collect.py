"""Every problem in a spec at once: parameters and blocks, schema and shapes, sorted by line.

Reading is in stages, and a mistake in one stage should not hide the mistakes of the next:

1. YAML (``yaml_source``): syntax errors, tags, duplicate keys. These are reported on their own,
   all of them, since the later stages need clean data.
2. Parameters and blocks (``templates``): a value that cannot be expanded (an undefined
   parameter, a block that uses itself) is left as written and leaves a *hole*.
3. Schema (pydantic): every problem, except those of a layer with a hole (the hole already
   explains them: ``2 * widht`` is no integer because ``widht`` is undefined).
4. Shapes: the walk needs valid layers, so when stages 2-3 found problems it runs on the layers
   before the first broken one. A shape problem there is independent of the later mistakes.

The problems of stages 2-4 are raised together in one ``SpecError``, sorted by line and column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from netspec.core.errors import NetspecError, Problem, SpecError, SpecPath
from netspec.reading.spec import SourceMap, Spec
from netspec.reading.templates import expand_templates
from netspec.reading.validation import validate

ShapeCheck = Callable[[Spec], object]
"""Walks a valid spec's layers and raises ``NetspecError`` at the first impossible shape."""


def validated(
    data: Any, source: SourceMap, params: Mapping[str, Any], check_shapes: ShapeCheck
) -> Spec:
    """A schema-valid spec from plain data, or a ``SpecError`` with every problem found.

    When no problem is found, the shapes are left to the caller's next step; when there are
    problems, ``check_shapes`` (``netspec.analyze``) walks the layers before the first broken one.
    """

    holes: list[tuple[SpecPath, Problem]] = []
    if isinstance(data, dict):
        data, positions = expand_templates(data, source.positions, source.file, params, holes)
        source = SourceMap(source.file, positions)
    broken = [path for path, _ in holes]
    problems = [problem for _, problem in holes]
    try:
        spec = validate(data, source)
    except SpecError as error:
        found = [p for p in error.problems if not any(_within(p.path, hole) for hole in broken)]
        problems += found
        broken += [p.path for p in found]
    else:
        if not problems:
            return spec
    problems += _shape_problems_before(broken, data, source, check_shapes)
    raise SpecError(sort_problems(problems))


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Distinct problems in document order (problems without a line first, as given).

    A block used several times repeats its problems at the same place: they are one mistake.
    """
    distinct: dict[tuple[object, ...], Problem] = {}
    for problem in problems:
        where = (problem.line, problem.column) if problem.line is not None else problem.path
        distinct.setdefault((problem.file, *where, problem.message), problem)
    return sorted(distinct.values(), key=lambda p: (p.line or 0, p.column or 0))


def _within(path: SpecPath, hole: SpecPath) -> bool:
    """Whether ``path`` lies in the shadow of ``hole``: a hole in a layer's argument covers the
    whole layer, since an unquoted ``max(width, 8)`` also leaves a stray key ``8)`` beside it."""
    if len(hole) >= 3 and isinstance(hole[-1], str):
        hole = hole[:-1]
    return path[: len(hole)] == hole


def _shape_problems_before(
    broken: list[SpecPath], data: Any, source: SourceMap, check_shapes: ShapeCheck
) -> list[Problem]:
    """Shape problems of ``layers[:k]``, where ``layers[k]`` is the first broken layer.

    Nothing when the input, or the layer list as a whole, is broken: then no shape is known.
    """
    first = _first_broken_layer(broken)
    if first is None or first == 0 or not isinstance(data, dict):
        return []
    layers = data.get("layers")
    if not isinstance(layers, list):
        return []
    try:
        prefix = Spec.model_validate({"input": data.get("input"), "layers": layers[:first]})
        check_shapes(prefix.with_source(source))
    except NetspecError as error:
        return list(error.problems)
    except ValueError:  # pydantic's ValidationError: the prefix is not valid after all
        return []
    return []


def _first_broken_layer(broken: list[SpecPath]) -> int | None:
    """The smallest top-level layer index among ``broken``; None if anything else is broken."""
    indices: list[int] = []
    for path in broken:
        if len(path) < 2 or path[0] != "layers" or not isinstance(path[1], int):
            if path[:1] in (("input",), ("layers",), ()):
                return None
            continue  # a wrong `name:` or an unknown top-level key leaves the layers intact
        indices.append(path[1])
    return min(indices) if indices else None
