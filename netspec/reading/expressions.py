"""Arithmetic on spec parameters, without ``eval``: ``4 * width``, ``make_divisible(32 * alpha)``.

A small recursive-descent parser over a whitelist: numbers, parameter names, ``+ - * / // %``,
parentheses, and the functions in ``FUNCTIONS``. Anything else is a ``ValueError``. Inputs are
bounded in length, and every intermediate result in magnitude (each operation's result and each
function's arguments, ``round``'s digits included), so no expression can exhaust memory or time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

Number = int | float

MAX_LENGTH = 200
MAX_MAGNITUDE = 10**15
MAX_DIGITS = 20
"""``round(x, n)``: ``|n|`` at most this. Every argument is already within ``MAX_MAGNITUDE``, but
``round(1, -10**15)`` computes ``10**(10**15)`` inside Python before any result is checked."""


def make_divisible(value: Number, divisor: Number = 8, min_value: Number | None = None) -> int:
    """Round ``value`` to a multiple of ``divisor``, never more than 10% down (timm, Ultralytics).

    ``max(min_value or divisor, int(value + divisor / 2) // divisor * divisor)``, plus one
    ``divisor`` when that lost more than 10% of ``value``.
    """
    if divisor <= 0:
        raise ValueError(f"make_divisible() needs a positive divisor; received {divisor}")
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return int(rounded)


FUNCTIONS: dict[str, Callable[..., Number]] = {
    "min": min,
    "max": max,
    "round": round,
    "int": int,
    "ceil": math.ceil,
    "floor": math.floor,
    "make_divisible": make_divisible,
}

_TOKEN = re.compile(
    r"\s*(?:((?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*)|(//|[-+*/%(),]))"
)


def tokenize(text: str) -> list[str] | None:
    """Tokens of ``text``, or None when it is not made of expression tokens at all."""
    tokens: list[str] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if not match:
            return None
        tokens.append(match.group(match.lastindex or 0))
        position = match.end()
    return tokens


def names_in(text: str) -> set[str] | None:
    """Identifiers in ``text`` other than function names, or None if it is no expression."""
    tokens = tokenize(text)
    if tokens is None:
        return None
    return {t for t in tokens if (t[0].isalpha() or t[0] == "_") and t not in FUNCTIONS}


def evaluate(text: str, scope: Mapping[str, Any]) -> Number:
    """The value of ``text`` with names taken from ``scope``. Raises ``ValueError``."""
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression longer than {MAX_LENGTH} characters")
    tokens = tokenize(text)
    if not tokens:
        raise ValueError(f"{text!r} is not an expression")
    parser = _Parser(tokens, scope)
    value = parser.sum()
    if parser.position != len(tokens):
        raise ValueError(f"unexpected {tokens[parser.position]!r} in {text!r}")
    return value


class _Parser:
    def __init__(self, tokens: list[str], scope: Mapping[str, Any]) -> None:
        self.tokens = tokens
        self.scope = scope
        self.position = 0

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected or 'a value'}, found {token or 'the end'}")
        self.position += 1
        return token

    def sum(self) -> Number:
        value = self.product()
        while self._peek() in ("+", "-"):
            op = self._take()
            right = self.product()
            value = _checked(value + right if op == "+" else value - right)
        return value

    def product(self) -> Number:
        value = self.unary()
        while self._peek() in ("*", "/", "//", "%"):
            op = self._take()
            right = self.unary()
            if op != "*" and right == 0:
                raise ValueError("division by zero")
            if op == "*":
                value = _checked(value * right)
            elif op == "/":
                value = _checked(value / right)
            elif op == "//":
                value = _checked(value // right)
            else:
                value = _checked(value % right)
        return value

    def unary(self) -> Number:
        if self._peek() in ("-", "+"):
            op = self._take()
            value = self.unary()
            return -value if op == "-" else value
        return self.atom()

    def atom(self) -> Number:
        token = self._take()
        if token == "(":
            value = self.sum()
            self._take(")")
            return value
        if token[0].isdigit() or token[0] == ".":
            return _checked(float(token) if any(c in token for c in ".eE") else int(token))
        if token in FUNCTIONS:
            return self._call(token)
        if token in self.scope:
            value = self.scope[token]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"parameter {token} is {value!r}, not a number")
            return _checked(value)
        raise ValueError(f"unexpected {token!r}")

    def _call(self, name: str) -> Number:
        self._take("(")
        args = [self.sum()]
        while self._peek() == ",":
            self._take(",")
            args.append(self.sum())
        self._take(")")
        if name == "round" and len(args) == 2 and not abs(args[1]) <= MAX_DIGITS:
            raise ValueError(f"round() takes at most {MAX_DIGITS} digits; received {args[1]:g}")
        try:
            return _checked(FUNCTIONS[name](*args))
        except (TypeError, ArithmeticError) as error:  # make_divisible(v, 0), int(nan)...
            raise ValueError(f"{name}() {error}") from None


def _checked(value: Number) -> Number:
    if abs(value) > MAX_MAGNITUDE or not math.isfinite(value):  # abs first: 10**400 is no float
        shown = f"{value:.3g}" if isinstance(value, float) or abs(value) < 10**300 else "huge"
        raise ValueError(f"value {shown} is out of range (limit {MAX_MAGNITUDE:.0e})")
    return value
