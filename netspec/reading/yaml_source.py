"""Safe YAML reading that keeps where every value came from.

PyYAML composes the document into nodes; this module walks the nodes itself, so that:

- only plain data comes out (mappings, lists, strings, numbers, booleans, null): any other tag,
  ``!!python/object`` included, is an error, and no constructor ever runs;
- booleans and numbers follow YAML 1.2 (``true``/``false`` only, so ``off`` stays a string;
  ``1e3`` is a float);
- duplicate keys are errors instead of silently winning (``<<`` is an ordinary, unknown key);
- every value's spec path maps to its line and column, for located error messages;
- size, node count (aliases expanded, so a "billion laughs" document stops early) and nesting
  depth are bounded.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from netspec.core.errors import LimitError, Problem, SpecError, SpecPath

MAX_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 64

_CORE = "tag:yaml.org,2002:"
_NULL, _BOOL, _INT, _FLOAT, _STR = (_CORE + t for t in ("null", "bool", "int", "float", "str"))
_SEQ, _MAP = _CORE + "seq", _CORE + "map"


class _CoreResolver(BaseResolver):
    """The YAML 1.2 core schema's implicit types, nothing else."""


_CoreResolver.add_implicit_resolver(
    _NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), [*list("~nN"), ""]
)
_CoreResolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


class _ComposeOnly(Reader, Scanner, Parser, Composer, _CoreResolver):
    """A loader that stops at nodes: nothing is constructed, so no tag can run code."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)


try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml: the pure-Python composer alone
    _LIBYAML = False
else:
    _LIBYAML = True

    class _FastComposeOnly(CParser, _CoreResolver):
        """The same composer in C (libyaml): several times faster."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _CoreResolver.__init__(self)


_UNREAD = object()
_UNLIKE = "\t?!\ufeff"
"""Where the two parsers differ (found by differential fuzzing): libyaml accepts tabs as
separators and ``?`` inside plain scalars in flow collections, ends a ``!tag`` at a comma, and
counts a byte-order mark in its indices. Such text takes the Python parser. Other non-ASCII text
reads the same in both, positions included (tests/reading/test_yaml_fast.py checks thousands of
mutants with 2-, 3- and 4-byte characters); it used to take the Python parser too, so that one
accented character made a 1 MB spec take three times as long."""


def _compose_fast(text: str) -> Any:
    """The root node from libyaml; ``_UNREAD`` without libyaml or on any error, so that
    ``_compose`` reads it again and words the error as it always has."""
    if not _LIBYAML or any(c in text for c in _UNLIKE):
        return _UNREAD
    try:
        if _first_too_deep(CParser(text)) is not None:  # libyaml recurses in C: it would crash
            return _UNREAD
        loader = _FastComposeOnly(text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError:
        return _UNREAD


def _first_too_deep(parser: Any) -> CollectionStartEvent | None:
    """The first collection that nests deeper than ``MAX_DEPTH``, from a parser's events (a
    state machine, no recursion: both composers recurse once per level); it stops there, since
    libyaml's scanner slows down with every level of flow nesting. Disposes of ``parser``."""
    depth = 0
    try:
        while (event := parser.get_event()) is not None:
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return event
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    finally:
        parser.dispose()
    return None


def _compose(text: str, file: str | None) -> Node | None:
    """The root node (None for an empty document); YAML errors raise a located ``SpecError``."""
    loader = _ComposeOnly(text)
    try:
        root: Node | None = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = f"YAML syntax error: {error.problem or error.context}"
        if error.context and error.problem:
            message += f" ({error.context})"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise SpecError(Problem(message, (), file, line, column)) from None
    except yaml.YAMLError as error:
        raise SpecError(Problem(f"not readable as YAML: {error}", file=file)) from None
    except RecursionError:  # the composer recurses once per level: ~900 levels exhaust the stack
        raise LimitError(_too_deep(text, file)) from None
    finally:
        loader.dispose()
    return root


def _too_deep(text: str, file: str | None) -> Problem:
    """Where collections first nest deeper than ``MAX_DEPTH``, from the Python parser's events,
    for text too deep for the composer to reach the walker."""
    message = f"spec nests deeper than {MAX_DEPTH} levels"
    try:
        event = _first_too_deep(_ComposeOnly(text))
    except yaml.YAMLError:
        event = None
    mark = event.start_mark if event is not None else None
    if mark is None:
        return Problem(message, file=file)
    return Problem(message, (), file, mark.line + 1, mark.column + 1)


_UNREADABLE = (
    "[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What YAML text cannot hold (its printable set, less NEL, U+2028 and U+2029): control
characters, lone surrogates, U+FFFE and U+FFFF. PyYAML refuses the first ones with a raw
``position 31`` message, and reads the last three as line breaks where editors see none, so
every line number after them would be wrong."""

_UNREADABLE_ASCII = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""The same set within ASCII: the control characters but tab, line feed and carriage return."""


@cache
def _unreadable_pattern() -> re.Pattern[str]:
    """The whole set, compiled when a text is not ASCII (its ranges take milliseconds)."""
    return re.compile(_UNREADABLE)

_SEPARATORS = {"\x85": "NEL", "\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR"}


def unreadable(text: str) -> tuple[int, str] | None:
    """The index of the first character YAML text cannot hold, and what to say about it."""
    match = (_UNREADABLE_ASCII if text.isascii() else _unreadable_pattern()).search(text)
    if match is None:
        return None
    char = match.group()
    code = f"U+{ord(char):04X}"
    if char in _SEPARATORS:
        reason = (f"{code} ({_SEPARATORS[char]}) is a line break to YAML 1.1 readers but not to "
                  "editors, so lines would be miscounted; remove it, or write it as the escape "
                  f"\\u{ord(char):04x} inside double quotes")
    else:
        name = unicodedata.name(char, "a control character" if ord(char) < 0x100 else (
            "a surrogate" if 0xD800 <= ord(char) <= 0xDFFF else "a non-character"))
        escape = f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
        reason = (f"the character {code} ({name}) is not allowed in YAML text; remove it, or "
                  f"write it as the escape {escape} inside double quotes")
    return match.start(), reason


def _located(text: str, index: int) -> tuple[int, int]:
    """Line and column (1-based) of ``text[index]``, counting only newlines as line breaks."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


Positions = dict[SpecPath, tuple[int, int] | None]


def parse_yaml(text: str, file: str | None) -> tuple[Any, Positions]:
    """YAML text -> (plain data, positions of every path). Raises ``SpecError``."""
    if len(text) > MAX_BYTES:
        raise LimitError(
            Problem(f"spec is {len(text):,} characters; the limit is {MAX_BYTES:,}", file=file)
        )
    bad = unreadable(text)
    if bad is not None:
        line, column = _located(text, bad[0])
        raise SpecError(Problem(bad[1], (), file, line, column))
    root = _compose_fast(text)
    if root is _UNREAD:
        root = _compose(text, file)
    if root is None:
        raise SpecError(Problem("the spec is empty; it needs `input:` and `layers:`", file=file))
    walker = _Walker(file)
    data = walker.data(root, (), 0)
    if walker.problems:  # every duplicate key and tag at once; schema checks need clean data
        found = dict.fromkeys(walker.problems)  # an alias repeats its node's problems
        raise SpecError(sorted(found, key=lambda p: (p.line or 0, p.column or 0)))
    return data, walker.positions


class _Walker:
    def __init__(self, file: str | None) -> None:
        self.file = file
        self.positions: Positions = {}
        self.nodes = 0
        self.problems: list[Problem] = []

    def _problem(self, message: str, node: Node, path: SpecPath) -> Problem:
        mark = node.start_mark
        return Problem(message, path, self.file, mark.line + 1, mark.column + 1)

    def data(self, node: Node, path: SpecPath, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise LimitError(self._problem(
                f"spec has more than {MAX_NODES:,} values (aliases counted each time they are "
                "used); refusing to expand it", node, path))
        if depth > MAX_DEPTH:
            raise LimitError(self._problem(  # the line and column say where; the path begins
                f"spec nests deeper than {MAX_DEPTH} levels", node, path[:4]))
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            return [self.data(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return self._mapping(node, path, depth)
        self.problems.append(self._problem(
            f"YAML tag {_shown(node.tag)} is not allowed: a spec is plain data", node, path))
        return None

    def _mapping(self, node: MappingNode, path: SpecPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            known = len(self.problems)
            key = self._scalar(key_node, path) if isinstance(key_node, ScalarNode) else key_node
            if not isinstance(key, str):
                received = repr(key) if isinstance(key_node, ScalarNode) else (
                    "a list" if isinstance(key_node, SequenceNode) else "a mapping")
                if len(self.problems) == known:  # else the key's own tag was the problem
                    self.problems.append(self._problem(
                        f"mapping keys must be names; received {received}", key_node, path))
                continue
            if key in result:
                first = self.positions.get((*path, key))
                where = f" (first at line {first[0]})" if first else ""
                self.problems.append(self._problem(
                    f"duplicate key {key!r}{where}", key_node, (*path, key)))
                continue
            self.positions[(*path, key)] = (key_node.start_mark.line + 1,
                                            key_node.start_mark.column + 1)
            result[key] = self.data(value_node, (*path, key), depth + 1)
        return result

    def _scalar(self, node: ScalarNode, path: SpecPath) -> Any:
        text, tag = node.value, node.tag
        try:
            if tag == _STR:
                if not _encodable(text):
                    self.problems.append(self._problem(
                        f"{text!r} holds a lone surrogate (from a \\u escape), which is no "
                        "Unicode character and cannot be printed; write the character itself",
                        node, path))
                return text
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return text.lower() == "true"
            if tag == _INT:
                return _to_int(text)
            if tag == _FLOAT:
                return _to_float(text)
        except ValueError:
            self.problems.append(self._problem(
                f"{text!r} is not a valid {tag.rsplit(':', 1)[-1]}", node, path))
            return text
        self.problems.append(self._problem(
            f"YAML tag {_shown(tag)} is not allowed: a spec is plain data", node, path))
        return None


def _encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(tag: str) -> str:
    """A tag as it is written: ``!!python/object``, ``!include``."""
    return "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag


def _to_int(text: str) -> int:
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text)


def _to_float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(text)
