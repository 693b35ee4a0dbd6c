"""One exception family for everything a user can get wrong, and for netspec's own self-checks.

Every problem carries where it is: the file, the line and column in that file (1-based), and the
spec path (``layers[3].Conv2d.kernel_size``). A ``NetspecError`` holds one or more problems so
that a spec with several mistakes is reported in one go.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

PathPart = str | int
SpecPath = tuple[PathPart, ...]


def format_path(path: SpecPath) -> str:
    """``("layers", 3, "Conv2d", "kernel_size")`` -> ``layers[3].Conv2d.kernel_size``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)  # str(): a key given in Python may be None
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (case-insensitive), or None when nothing is close."""
    options = list(choices)
    by_lower = {choice.lower(): choice for choice in options}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def shown_file(name: str | os.PathLike[str]) -> str:
    """A file name as a message shows it: on one line, printable, writable to any terminal
    (``a\\nb.yaml`` for a name with a newline; a lone surrogate from an undecodable byte
    escaped too). A path object is shown as its text."""
    name = os.fspath(name)
    if name.isprintable():
        return name
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in name)


@dataclass(frozen=True)
class Problem:
    """One located mistake: the rule that is broken, with the values received."""

    message: str
    path: SpecPath = ()
    file: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def location(self) -> str:
        """``file:line:col`` with whatever parts are known."""
        parts = [shown_file(self.file) if self.file else "<spec>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def within(self, prefix: SpecPath) -> Problem:
        """The same problem, seen from a container whose path is ``prefix``."""
        return replace(self, path=prefix + self.path)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": format_path(self.path),
            "message": self.message,
        }

    def __str__(self) -> str:
        path = format_path(self.path)
        return f"{self.location}: {path}: {self.message}" if path else (
            f"{self.location}: {self.message}"
        )


class NetspecError(Exception):
    """Base of every error netspec raises on purpose. ``problems`` lists each located mistake."""

    def __init__(self, problems: str | Problem | Sequence[Problem]) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def within(self, prefix: SpecPath) -> NetspecError:
        """The same error with every path prefixed (used by containers of layers)."""
        return type(self)([problem.within(prefix) for problem in self.problems])


class SpecError(NetspecError):
    """The spec is wrong: a bad value, an impossible shape, a YAML mistake."""


class LimitError(SpecError):
    """The spec asks for more than a safety limit allows (size, depth, memory)."""


class PluginError(SpecError):
    """A user's plugin kind broke its word: torch's module for it disagrees with what its rules
    said (shape, parameters, buffers), or could not be built or run. Names the plugin."""


class ConfirmationError(NetspecError):
    """torch disagrees with netspec's own analysis. This is a netspec bug, never silenced."""


def fail(message: str, *, field: str | None = None) -> SpecError:
    """A ``SpecError`` for one rule broken by one field of the current layer.

    Layer rules ``raise fail(...)``; the walker adds the layer's own path and source position.
    """
    return SpecError(Problem(message, (field,) if field else ()))
