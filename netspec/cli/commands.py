"""``netspec`` on the command line: a thin layer over the public API.

    netspec summary SPEC [--input 3x224x224] [--format table|json|markdown] [--no-confirm]
        [--weights FILE]                            # load a checkpoint into the built model
    netspec check SPEC... [--format text|json]      # validate and analyse; never imports torch
        [--strict] [--inputs]                       # warnings fail; valid input sizes
    netspec diff A [B] [--set-a/--set-b NAME=VALUE] # per-layer changes, two specs or variants
    netspec layers [KIND]                           # the layer kinds and their arguments
    netspec --plugin MODULE COMMAND ...             # import MODULE first: its own kinds

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
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from netspec.cli.arguments import Commands, add_set, input_shape, max_params, param_override
from netspec.core.errors import ConfirmationError, NetspecError, Problem, did_you_mean
from netspec.core.version import __version__
from netspec.layers.base import Layer
from netspec.layers.plugins import import_plugin
from netspec.layers.registry import registered_kinds

OK, SPEC_ERRORS = 0, 1  # usage errors exit 2, from argparse

BUG_REPORT = (
    "netspec: this is a netspec bug: torch disagrees with netspec's analysis of this spec "
    "(above), so no summary was printed. Please report it together with the spec."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (the console script exits with it)."""
    # pydantic's plugins (validation observability) have nothing to watch in a command line
    # run, and looking for them reads the metadata of every installed distribution
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    parser = build_parser()
    args = parser.parse_args(argv)
    for module in args.plugins:  # before any spec is read: they register kinds
        try:
            import_plugin(module)
        except NetspecError as error:
            parser.error(error.problems[0].message)
    try:
        result: int = args.run(args, parser)
    except ConfirmationError as error:
        print_problems([*error.problems, Problem(BUG_REPORT)] if _json(args) else error.problems,
                       args)
        if not _json(args):
            print(BUG_REPORT, file=sys.stderr)
        return SPEC_ERRORS
    except NetspecError as error:
        print_problems(error.problems, args)
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
    parser.add_argument(
        "--plugin", dest="plugins", action="append", default=[], metavar="MODULE",
        help="import MODULE first, which registers layer kinds of its own with "
        "netspec.register_kind (repeatable; before the command: netspec --plugin mypkg.kinds "
        "check spec.yaml; docs/plugins.md)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_summary(commands)
    _add_check(commands)
    _add_layers(commands)
    _add_diff(commands)
    from netspec.cli.ecosystem import add_commands  # schema, export, draw

    add_commands(commands)
    return parser





def _add_summary(commands: Commands) -> None:
    summary = commands.add_parser(
        "summary", help="the per-layer table, confirmed by torchinfo",
        description="Shapes, parameters, MACs and receptive field per layer, and the totals.",
    )
    summary.add_argument("spec", type=Path, metavar="SPEC", help="a spec file (YAML)")
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
    add_set(summary)
    summary.add_argument(
        "--no-confirm", action="store_true",
        help="skip the torchinfo check on the built module (then torch is not imported)",
    )
    summary.add_argument(
        "--explain", action="store_true",
        help="under the table, each layer's arithmetic with the numbers substituted",
    )
    summary.add_argument(
        "--batch", type=max_params, default=1, metavar="N",
        help="give the memory totals for a batch of N samples (default 1)",
    )
    summary.add_argument(
        "--notes", action="store_true",
        help="under the table, the lint notes too (facts worth knowing, such as where the "
        "parameters sit; docs/lints.md), not only the warnings",
    )
    summary.add_argument(
        "--inputs", action="store_true",
        help="under the table, the valid and exact input sizes per spatial axis",
    )
    summary.add_argument(
        "--max-params", type=max_params, metavar="N",
        help="refuse a network with more than N parameter and buffer elements (2e9 is "
        "build's default limit); the summary itself allocates nothing, so by default none",
    )
    summary.add_argument(
        "--weights", metavar="FILE",
        help="load this state dict or checkpoint (torch.save, .safetensors) into the built "
        "model: every entry that does not fit is an error at its layer's line",
    )
    summary.set_defaults(run=run_summary)


def _add_check(commands: Commands) -> None:
    check = commands.add_parser(
        "check", help="validate and analyse specs without importing torch",
        description="Validate and analyse each spec. Exit 0 when all are clean, 1 otherwise.",
    )
    check.add_argument("specs", nargs="+", type=Path, metavar="SPEC", help="spec files (YAML)")
    check.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="text: one line per spec, problems on stderr; json: the list of problems",
    )
    add_set(check)
    check.add_argument(
        "--strict", action="store_true",
        help="lint warnings fail the check too (exit 1); docs/lints.md lists them",
    )
    check.add_argument(
        "--inputs", action="store_true",
        help="also print, per spatial axis, the smallest valid input size and the sizes that "
        "drop no rows (searched up to 4096)",
    )
    check.set_defaults(run=run_check)


def _add_diff(commands: Commands) -> None:
    diff = commands.add_parser(
        "diff", help="per-layer changes between two specs, or two variants of one",
        description="Compare shapes, parameters, MACs and receptive fields layer by layer, and "
        "the totals: two specs (A B), or one spec with --set-a/--set-b/--input-a/--input-b.",
    )
    diff.add_argument("a", type=Path, metavar="A", help="a spec file (YAML)")
    diff.add_argument("b", nargs="?", type=Path, metavar="B",
                      help="a second spec file (default: A)")
    add_set(diff)
    for side in "ab":
        diff.add_argument(
            f"--set-{side}", dest=f"params_{side}", action="append", type=param_override,
            default=[], metavar="NAME=VALUE", help=f"override a parameter on side {side.upper()}",
        )
        diff.add_argument(f"--input-{side}", type=input_shape, metavar="SHAPE",
                          help=f"another input shape on side {side.upper()}: 3x160x160")
    diff.add_argument("--all", action="store_true", help="show unchanged rows too")
    diff.add_argument("--format", choices=("text", "json"), default="text",
                      help="text: the changed rows and the totals; json: every row")
    diff.add_argument("--exit-code", action="store_true",
                      help="exit 1 when anything differs (as git diff --exit-code)")
    diff.set_defaults(run=run_diff)


def _add_layers(commands: Commands) -> None:
    kinds = commands.add_parser(
        "layers", help="the layer kinds and their arguments",
        description="Every layer kind, its arguments, their types and defaults, and which "
        "ones are inferred from the incoming shape.",
    )
    kinds.add_argument("kind", nargs="?", metavar="KIND", help="show only this kind (Conv2d)")
    kinds.set_defaults(run=run_layers)


# --- commands ---


def run_summary(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from netspec.views.summary import summary

    result = summary(
        args.spec, input_shape=args.input, confirm=not args.no_confirm,
        params=dict(args.params), depth=args.depth, max_params=args.max_params,
        explain=args.explain, inputs=args.inputs, weights=args.weights, notes=args.notes,
        batch=args.batch,
    )
    if args.format == "json":
        print(result.to_json())
    elif args.format == "markdown":
        print(result.to_markdown(), end="")
    else:
        print(result.to_table(), end="")
    if result.unmet:  # the summary is shown, and the spec's own expectations fail it
        print_problems(result.unmet, args)
        return SPEC_ERRORS
    return OK


def run_check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from netspec.advice.checks import check_spec, print_results

    results = [
        check_spec(path, params=dict(args.params), inputs=args.inputs) for path in args.specs
    ]
    return print_results(
        results, json_format=args.format == "json", strict=args.strict, inputs=args.inputs
    )


def run_diff(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from netspec.views.diff import compare

    variants = args.params_a or args.params_b or args.input_a or args.input_b
    if args.b is None and not variants:
        parser.error("diff needs a second spec B, or --set-a/--set-b/--input-a/--input-b to "
                     "compare two variants of A")
    result = compare(
        args.a, args.b, params=dict(args.params), params_a=dict(args.params_a),
        params_b=dict(args.params_b), input_a=args.input_a, input_b=args.input_b,
    )
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.to_text(all_rows=args.all), end="")
    return SPEC_ERRORS if args.exit_code and result.changed else OK


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


def print_problems(problems: Sequence[Problem], args: argparse.Namespace | None = None) -> None:
    """Problems on stderr: one ``file:line:col: path: message`` line each, or with
    ``--format json`` one JSON list of ``Problem.to_dict()`` objects (docs/json-format.md)."""
    spec = getattr(args, "spec", None)
    shown = [p if p.file or spec is None else replace(p, file=spec) for p in problems]
    if _json(args):
        print(json.dumps([problem.to_dict() for problem in shown], indent=2), file=sys.stderr)
        return
    for problem in shown:
        print(problem, file=sys.stderr)


def _json(args: argparse.Namespace | None) -> bool:
    return getattr(args, "format", None) == "json"

