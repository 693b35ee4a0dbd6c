"""Command-line arguments shared by the ``netspec`` commands: ``--set``, input shapes, counts."""

from __future__ import annotations

import argparse
from typing import Any, TypeAlias

from netspec.core.errors import NetspecError
from netspec.core.limits import parse_count
from netspec.reading.yaml_source import parse_yaml

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_set(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set", dest="params", action="append", type=param_override, default=[],
        metavar="NAME=VALUE", help="override a top-level parameter (repeatable): --set width=32",
    )


def param_override(text: str) -> tuple[str, Any]:
    """``width=32`` -> ``("width", 32)``; the value is read as a YAML scalar (int, float...)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE; received {text!r}")
    try:
        parsed, _ = parse_yaml(value or "null", None)
    except NetspecError:
        parsed = value
    if isinstance(parsed, dict | list):
        raise argparse.ArgumentTypeError(f"a parameter is a single value; received {value!r}")
    return name.strip(), parsed


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
    """``3x224x224`` (or ``3,224,224``) -> ``(3, 224, 224)``; argparse turns errors into exit 2."""
    parts = text.replace(",", "x").lower().split("x")
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes joined by 'x', such as 3x224x224; received {text!r}"
        ) from None
    if any(size <= 0 for size in shape):
        raise argparse.ArgumentTypeError(f"sizes must be positive; received {text!r}")
    return shape
