"""From a file, a YAML string or a dict to a validated ``Spec``, with located errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .collect import validated
from .errors import LimitError, Problem, SpecError
from .spec import SourceMap, Spec
from .validation import data_paths, spec_error
from .yaml_source import MAX_BYTES, parse_yaml

SpecSource = str | os.PathLike[str] | dict[str, Any] | Spec


def load(source: SpecSource, *, params: Mapping[str, Any] | None = None) -> Spec:
    """A validated spec from a path, YAML text, a dict, or a ``Spec``.

    A ``str`` is read as a path when it names a file or directory or ends in ``.yaml``/``.yml``,
    else as YAML text (a ``pathlib.Path`` is always a path). ``params`` overrides the spec's
    top-level ``params:`` (as ``--set`` does). Blocks and parameter references are expanded
    first; schema mistakes are then reported together, and the shapes are checked layer by
    layer (without torch), so a spec that loads is one that builds. Raises ``SpecError``.
    """
    if isinstance(source, Spec):
        if params:
            raise SpecError("params= applies to a spec file, text or dict, not to a loaded Spec")
        spec = source
    else:
        data, source_map = read(source)
        spec = validated(data, source_map, params or {})  # every problem at once, by line
    from .analysis import analyze

    analyze(spec)
    return spec


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
