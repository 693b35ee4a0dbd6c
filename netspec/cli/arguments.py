"""Command-line arguments shared by the ``netspec`` commands: ``--set``, input shapes, counts."""

from __future__ import annotations

import argparse
import math
from typing import Any, TypeAlias

from netspec.core.errors import NetspecError
from netspec.core.limits import MAX_BATCH, MAX_SEED, MAX_VALUES, parse_count
from netspec.reading.spec import MAX_INPUT_DIMS
from netspec.reading.yaml_source import parse_yaml, unreadable

MAX_ARGUMENT = 1_000
"""Characters in one ``--set`` or ``--input`` argument; longer ones are refused unread."""

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_set(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set", dest="params", action="append", type=param_override, default=[],
        metavar="NAME=VALUE", help="override a top-level parameter (repeatable): --set width=32",
    )


def param_override(text: str) -> tuple[str, Any]:
    """``width=32`` -> ``("width", 32)``; the value is read as a YAML scalar (int, float...)."""
    _check_text(text)
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE; received {_shown(text)}")
    try:
        parsed, _ = parse_yaml(value or "null", None)
    except NetspecError:
        parsed = value
    if isinstance(parsed, dict | list):
        raise argparse.ArgumentTypeError(
            f"a parameter is a single value; received {_shown(value)}")
    return name.strip(), parsed


def _check_text(text: str) -> None:
    """Refuse an argument too long, or holding a character no spec may hold (NUL, BEL...)."""
    if len(text) > MAX_ARGUMENT:
        raise argparse.ArgumentTypeError(
            f"{len(text):,} characters; the limit is {MAX_ARGUMENT:,}: {_shown(text)}")
    bad = unreadable(text)
    if bad is not None:
        raise argparse.ArgumentTypeError(f"{bad[1]} (character {bad[0] + 1} of {_shown(text)})")


def _shown(text: str, limit: int = 60) -> str:
    """``text`` quoted and shortened for a message; escapes keep it on one printable line."""
    shown = ascii(text) if not text.isprintable() else repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def seed(text: str) -> int:
    """A seed for torch: a whole number from 0 to ``MAX_SEED``."""
    return _bounded_int(text, 0, MAX_SEED, "a seed")


def batch(text: str) -> int:
    """A batch size: a whole number from 1 to ``MAX_BATCH``."""
    return _bounded_int(text, 1, MAX_BATCH, "a batch size")


def _bounded_int(text: str, low: int, high: int, what: str) -> int:
    _check_text(text)
    try:
        value = int(text.replace("_", "")) if len(text) <= 40 else None
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"{what} is a whole number from {low:,} to {high:,}; received {_shown(text)}")
    return value


def max_params(text: str) -> int:
    """``2e9``, ``2_000_000_000`` or ``2000000000``: a positive element count."""
    try:
        count = parse_count(text)
    except ValueError:
        count = 0
    if count <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive count such as 2e9; received {text!r}")
    return count


def input_shape(text: str) -> tuple[int, ...]:
    """``3x224x224`` (or ``3,224,224``) -> ``(3, 224, 224)``; argparse turns errors into exit 2.

    At most ``MAX_INPUT_DIMS`` sizes, each and their product at most 2^48, as ``input:``."""
    _check_text(text)
    parts = text.replace(",", "x").lower().split("x")
    try:
        shape = tuple(int(part) if len(part) <= 20 else -1 for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes joined by 'x', such as 3x224x224; received {_shown(text)}"
        ) from None
    if any(size <= 0 for size in shape):
        raise argparse.ArgumentTypeError(
            f"sizes must be positive whole numbers up to 2^48; received {_shown(text)}")
    if len(shape) > MAX_INPUT_DIMS:
        raise argparse.ArgumentTypeError(
            f"one sample has at most {MAX_INPUT_DIMS} sizes (channels, then up to "
            f"{MAX_INPUT_DIMS - 1} spatial sizes; no batch dimension); received {len(shape)}: "
            f"{_shown(text)}")
    if math.prod(shape) > MAX_VALUES:
        raise argparse.ArgumentTypeError(
            f"{_shown(text)} holds {math.prod(shape):,} values; the limit is 2^48 = "
            f"{MAX_VALUES:,}")
    return shape
