"""From a file, a YAML string or a dict to a validated ``Spec``, with located errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netspec.core.errors import LimitError, Problem, SpecError
from netspec.reading.collect import ShapeCheck, validated
from netspec.reading.spec import SourceMap, Spec
from netspec.reading.validation import data_paths
from netspec.reading.yaml_source import MAX_BYTES, parse_yaml

SpecSource = str | os.PathLike[str] | dict[str, Any] | Spec


def read_spec(
    source: SpecSource, check_shapes: ShapeCheck, *, params: Mapping[str, Any] | None = None
) -> Spec:
    """A schema-valid spec from a path, YAML text, a dict, or a ``Spec`` (shapes not yet
    checked: ``netspec.load`` does that too).

    A ``str`` is read as a path when it names a file or directory or ends in ``.yaml``/``.yml``,
    else as YAML text (a ``pathlib.Path`` is always a path). ``params`` overrides the spec's
    top-level ``params:`` (as ``--set`` does). Blocks and parameter references are expanded
    first; schema mistakes are then reported together, with the shape problems that
    ``check_shapes`` finds before the first broken layer. Raises ``SpecError``.
    """
    if isinstance(source, Spec):
        if params:
            raise SpecError("params= applies to a spec file, text or dict, not to a loaded Spec")
        return source
    data, source_map = read(source)
    return validated(data, source_map, params or {}, check_shapes)  # every problem, by line


def read(source: str | os.PathLike[str] | dict[str, Any]) -> tuple[Any, SourceMap]:
    """Plain data and where each part of it came from."""
    if isinstance(source, dict):
        return source, SourceMap(None, dict(data_paths(source)))
    if isinstance(source, os.PathLike) or _looks_like_path(source):
        path = Path(source)
        text = _read_file(path)
        data, positions = parse_yaml(text, str(path))
        return data, SourceMap(str(path), positions)
    data, positions = parse_yaml(source, None)
    return data, SourceMap(None, positions)


def _looks_like_path(text: str) -> bool:
    if "\n" in text or len(text) > 4096:
        return False
    return text.endswith((".yaml", ".yml")) or os.path.isfile(text) or os.path.isdir(text)


def _read_file(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise LimitError(Problem(
                f"spec file is {size:,} bytes; the limit is {MAX_BYTES:,}", file=str(path)))
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(Problem("no such spec file", file=str(path))) from None
    except IsADirectoryError:
        raise SpecError(Problem("is a directory, not a spec file", file=str(path))) from None
    except OSError as error:
        raise SpecError(Problem(f"cannot read: {error.strerror}", file=str(path))) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(Problem(
            f"not UTF-8 text (byte {error.start}); a spec is a YAML text file", file=str(path)
        )) from None
