"""From a file, a YAML string or a dict to a validated ``Spec``, with located errors."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netspec.core.errors import LimitError, Problem, SpecError
from netspec.reading.collect import ShapeCheck, validated
from netspec.reading.spec import SourceMap, Spec
from netspec.reading.validation import data_paths
from netspec.reading.yaml_source import MAX_BYTES, parse_yaml

SpecSource = str | bytes | os.PathLike[str] | dict[str, Any] | Spec


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
    _check_overrides(params or {})
    data, source_map = read(source)
    return validated(data, source_map, params or {}, check_shapes)  # every problem, by line


def read(source: str | bytes | os.PathLike[str] | dict[str, Any]) -> tuple[Any, SourceMap]:
    """Plain data and where each part of it came from."""
    if isinstance(source, dict):
        return source, SourceMap(None, data_paths(source))
    if isinstance(source, bytes | bytearray):
        return read(_decoded(bytes(source), None))
    if not isinstance(source, str | os.PathLike):
        raise SpecError(Problem(
            "a spec is a path, YAML text (str or UTF-8 bytes), a dict or a Spec; received "
            f"{type(source).__name__}"))
    if isinstance(source, os.PathLike) or _looks_like_path(source):
        path = Path(source)
        text = _read_file(path)
        data, positions = parse_yaml(text, str(path))
        return data, SourceMap(str(path), positions)
    data, positions = parse_yaml(source, None)
    return data, SourceMap(None, positions)


def _check_overrides(params: Mapping[str, Any]) -> None:
    """``params=`` (``--set``): names, each with one plain value, checked before any use."""
    if not isinstance(params, Mapping):
        raise SpecError(f"params= is a mapping of names to values; received "
                        f"{type(params).__name__}")
    data_paths({"params": dict(params)})
    for name, value in params.items():
        if not isinstance(name, str):
            raise SpecError(f"params= names are strings; received {type(name).__name__}")
        if isinstance(value, dict | list | tuple):
            raise SpecError(Problem(
                f"a parameter is a single value (a number, string, boolean or null); "
                f"received a {type(value).__name__}", ("params", name)))


def _looks_like_path(text: str) -> bool:
    if "\n" in text or len(text) > 4096:
        return False
    return text.endswith((".yaml", ".yml")) or os.path.isfile(text) or os.path.isdir(text)


def _read_file(path: Path) -> str:
    """The text of a regular file, read through a bounded reader: at most ``MAX_BYTES + 1``
    bytes are ever read, so ``/dev/zero`` or a growing file cannot exhaust memory, and the file
    is opened without blocking and checked to be a regular file first, so a FIFO cannot hang."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise SpecError(Problem("no such spec file", file=str(path))) from None
    except IsADirectoryError:
        raise SpecError(Problem("is a directory, not a spec file", file=str(path))) from None
    except OSError as error:
        raise SpecError(Problem(f"cannot read: {error.strerror}", file=str(path))) from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise SpecError(Problem(
                f"is {_file_kind(status.st_mode)}, not a spec file", file=str(path)))
        if status.st_size > MAX_BYTES:
            raise LimitError(Problem(
                f"spec file is {status.st_size:,} bytes; the limit is {MAX_BYTES:,}",
                file=str(path)))
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            raw = stream.read(MAX_BYTES + 1)
    except OSError as error:
        raise SpecError(Problem(f"cannot read: {error.strerror}", file=str(path))) from None
    finally:
        os.close(descriptor)
    if len(raw) > MAX_BYTES:
        raise LimitError(Problem(
            f"spec file is more than {MAX_BYTES:,} bytes (it grew while read); the limit is "
            f"{MAX_BYTES:,}", file=str(path)))
    return _decoded(raw, str(path))


def _decoded(raw: bytes, file: str | None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(Problem(
            f"not UTF-8 text (byte {error.start}); a spec is a YAML text file", file=file
        )) from None


def _file_kind(mode: int) -> str:
    """What a path that is no regular file is, in words."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    return next((word for test, word in kinds if test(mode)), "not a regular file")
