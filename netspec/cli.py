"""``netspec`` on the command line: a thin layer over the public API.

    netspec summary SPEC [--input 3x224x224] [--format table|json|markdown] [--no-confirm]
    netspec check SPEC... [--format text|json]      # validate and analyse; never imports torch
    netspec layers [KIND]                           # the layer kinds and their arguments

Exit status: 0 when everything is fine, 1 when a spec has errors (each printed as
``file:line:col: path: message`` on stderr, never a traceback), 2 for a wrong command line.
Only ``summary`` without ``--no-confirm`` imports torch.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from collections.abc import Collection, Sequence
from dataclasses import replace
from types import UnionType
from typing import Annotated, Any, Literal, TypeAlias, Union, get_args, get_origin

from . import __version__
from .analysis import analyze
from .errors import ConfirmationError, NetspecError, Problem, did_you_mean
from .layers import Layer, registered_kinds
from .loader import load
from .yaml_source import parse_yaml

OK, SPEC_ERRORS = 0, 1  # usage errors exit 2, from argparse

BUG_REPORT = (
    "netspec: this is a netspec bug: torch disagrees with netspec's analysis of this spec "
    "(above), so no summary was printed. Please report it together with the spec."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args, parser)
    except ConfirmationError as error:
        print_problems(error.problems)
        print(BUG_REPORT, file=sys.stderr)
        return SPEC_ERRORS
    except NetspecError as error:
        print_problems(error.problems)
        return SPEC_ERRORS
    except BrokenPipeError:  # `netspec layers | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netspec",
        description="Describe a torch.nn network in a short YAML file: validate, analyse, "
        "summarise.",
    )
    parser.add_argument("--version", action="version", version=f"netspec {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_summary(commands)
    _add_check(commands)
    _add_layers(commands)
    return parser


Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_summary(commands: Commands) -> None:
    summary = commands.add_parser(
        "summary", help="the per-layer table, confirmed by torchinfo",
        description="Shapes, parameters, MACs and receptive field per layer, and the totals.",
    )
    summary.add_argument("spec", metavar="SPEC", help="a spec file (YAML)")
    summary.add_argument(
        "--input", type=input_shape, metavar="SHAPE",
        help="one input sample's shape, replacing the spec's input: 3x224x224",
    )
    summary.add_argument(
        "--format", choices=("table", "json", "markdown"), default="table",
        help="output format (default: table; json is documented in docs/json-format.md)",
    )
    summary.add_argument(
        "--depth", type=int, metavar="N",
        help="show rows nested at most N levels inside composite layers (0: top level only)",
    )
    _add_set(summary)
    summary.add_argument(
        "--no-confirm", action="store_true",
        help="skip the torchinfo check on the built module (then torch is not imported)",
    )
    summary.set_defaults(run=run_summary)


def _add_check(commands: Commands) -> None:
    check = commands.add_parser(
        "check", help="validate and analyse specs without importing torch",
        description="Validate and analyse each spec. Exit 0 when all are clean, 1 otherwise.",
    )
    check.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (YAML)")
    check.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="text: one line per spec, problems on stderr; json: the list of problems",
    )
    _add_set(check)
    check.set_defaults(run=run_check)


def _add_layers(commands: Commands) -> None:
    kinds = commands.add_parser(
        "layers", help="the layer kinds and their arguments",
        description="Every layer kind, its arguments, their types and defaults, and which "
        "ones are inferred from the incoming shape.",
    )
    kinds.add_argument("kind", nargs="?", metavar="KIND", help="show only this kind (Conv2d)")
    kinds.set_defaults(run=run_layers)


def _add_set(command: argparse.ArgumentParser) -> None:
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


# --- commands ---


def run_summary(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .summary import summary

    result = summary(
        args.spec, input_shape=args.input, confirm=not args.no_confirm,
        params=dict(args.params), depth=args.depth,
    )
    if args.format == "json":
        print(result.to_json())
    elif args.format == "markdown":
        print(result.to_markdown(), end="")
    else:
        print(result.to_table(), end="")
    return OK


def run_check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    problems: list[Problem] = []
    for path in args.specs:
        try:
            report = analyze(load(path, params=dict(args.params)))
        except NetspecError as error:
            found = [p if p.file else replace(p, file=path) for p in error.problems]
            problems.extend(found)
            if args.format == "text":
                print_problems(found)
            continue
        if args.format == "text":
            layers = len(report.top_level())
            print(
                f"{path}: ok ({layers} layer{'s' if layers != 1 else ''}, {report.params:,} "
                f"params, {report.macs:,} MACs, out {list(report.output_shape)})"
            )
    if args.format == "json":
        print(json.dumps([problem.to_dict() for problem in problems], indent=2))
    return SPEC_ERRORS if problems else OK


def run_layers(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    kinds = registered_kinds()
    if args.kind is not None:
        if args.kind not in kinds:
            guess = did_you_mean(args.kind, kinds)
            hint = f"; did you mean {guess}?" if guess else "; `netspec layers` lists them"
            parser.error(f"unknown layer kind {args.kind!r}{hint}")
        kinds = {args.kind: kinds[args.kind]}
    common = describe_fields(Layer, only=Layer.netspec_fields)
    print(f"Every kind also takes:\n{common}\n")
    print("\n\n".join(describe_kind(name, cls) for name, cls in kinds.items()))
    return OK


# --- output helpers ---


def describe_kind(name: str, cls: type[Layer]) -> str:
    """A kind's first docstring line, then one aligned line per argument of its own."""
    doc = (inspect.getdoc(cls) or "").splitlines()
    own = {arg for arg in cls.model_fields if arg not in Layer.netspec_fields}
    fields = describe_fields(cls, only=own)
    header = f"{name}: {doc[0]}" if doc else name
    return f"{header}\n{fields}" if fields else f"{header}\n  (no arguments)"


def describe_fields(cls: type[Layer], *, only: Collection[str]) -> str:
    """``  name  type  = default | inferred | required  description``, aligned."""
    rows: list[tuple[str, str, str, str]] = []
    for arg, _, default, description, inferred in cls.describe_fields():
        if arg in only:
            status = "inferred" if inferred else (
                "required" if default == "required" else f"default {default}")
            rows.append((arg, type_text(cls.model_fields[arg].annotation), status, description))
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  " + "  ".join([*(row[i].ljust(widths[i]) for i in range(3)), row[3]]).rstrip()
        for row in rows
    )


def type_text(annotation: Any) -> str:
    """A field's type as a spec writer reads it: ``int | list[int] | 'same' | 'valid'``.

    Strictness and bounds (``Annotated``) are dropped; tuples are lists in YAML; any union of
    layer kinds (the children of a composite kind) reads ``layer``.
    """
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type) and issubclass(annotation, Layer):
        return "layer"
    if origin is Annotated:
        return type_text(args[0])
    if origin is Literal:
        return " | ".join(repr(value) for value in args)
    if origin in (Union, UnionType):
        return " | ".join(dict.fromkeys(type_text(arg) for arg in args))
    if origin is tuple:
        items = dict.fromkeys(type_text(arg) for arg in args if arg is not Ellipsis)
        return f"list[{' | '.join(items)}]"
    if origin is not None:
        return f"{getattr(origin, '__name__', origin)}[{', '.join(map(type_text, args))}]"
    return str(getattr(annotation, "__name__", annotation))


def print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)

