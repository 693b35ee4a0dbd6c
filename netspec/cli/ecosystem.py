"""The commands that connect netspec with other tools; ``netspec.cli`` adds them to its parser.

    netspec schema [-o FILE]                     # JSON Schema (draft-07) for editors and CI
    netspec export SPEC -o model.pt2|model.onnx  # torch.export or ONNX, checked after writing
    netspec draw SPEC [-o net.svg] [--format svg|mermaid] [--depth N]

Like ``check``, ``schema`` and ``draw`` never import torch; ``export`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.cli.arguments import Commands, add_set, batch, input_shape, seed

if TYPE_CHECKING:
    from netspec.views.diagram import DiagramFormat

OK = 0
DRAW_SUFFIXES: dict[str, DiagramFormat] = {
    ".svg": "svg", ".mmd": "mermaid", ".mermaid": "mermaid"}


def add_commands(commands: Commands) -> None:
    """Add ``schema``, ``export`` and ``draw`` to the ``netspec`` parser."""

    schema = commands.add_parser(
        "schema", help="the JSON Schema of the spec format (for editors)",
        description="Print the JSON Schema (draft-07) of a spec, as yaml-language-server reads "
        "it: put `# yaml-language-server: $schema=PATH` on a spec's first line.",
    )
    schema.add_argument("-o", "--output", metavar="FILE", help="write it here, not to stdout")
    schema.set_defaults(run=run_schema)

    export = commands.add_parser(
        "export", help="export the model: torch.export (.pt2) or ONNX (.onnx)",
        description="Build the spec's model (eval mode), export it with a dynamic batch "
        "dimension, load the artefact back and compare its output with the model's.",
    )
    export.add_argument("spec", type=Path, metavar="SPEC", help="a spec file (YAML)")
    export.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="model.pt2 (torch.export) or model.onnx (needs netspec[onnx])")
    export.add_argument("--input", type=input_shape, metavar="SHAPE",
                        help="one input sample's shape, replacing the spec's input: 3x224x224")
    export.add_argument("--weights", metavar="FILE",
                        help="a state dict or checkpoint (torch.save, .safetensors) to load, "
                        "by key or else in order, every shape checked; default: a random "
                        "initialisation seeded with --seed")
    export.add_argument("--seed", type=seed, default=0, help="seed of the weights and the "
                        "example input (default 0)")
    export.add_argument("--batch", type=batch, default=2, metavar="N",
                        help="batch size of the example input (default 2)")
    export.add_argument("--static-batch", action="store_true",
                        help="fix the batch size to --batch instead of a dynamic dimension")
    export.add_argument("--no-verify", action="store_true",
                        help="do not load the artefact back to compare its output")
    add_set(export)
    export.set_defaults(run=run_export)

    draw = commands.add_parser(
        "draw", help="a diagram of the network: SVG or Mermaid",
        description="Draw the network top to bottom: one box per layer with its kind, key "
        "arguments, output shape and receptive field; branches side by side.",
    )
    draw.add_argument("spec", type=Path, metavar="SPEC", help="a spec file (YAML)")
    draw.add_argument("-o", "--output", metavar="FILE",
                      help="write it here (.svg, .mmd), not to stdout")
    draw.add_argument("--format", choices=("svg", "mermaid"),
                      help="default: from the output's suffix, else svg")
    draw.add_argument("--depth", type=int, metavar="N",
                      help="draw layers nested more than N levels deep as single boxes")
    add_set(draw)
    draw.set_defaults(run=run_draw)


def run_schema(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from netspec.views.json_schema import schema

    _write(json.dumps(schema(), indent=1, ensure_ascii=False) + "\n", args.output)
    return OK


def run_export(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from netspec.torch_side.exporter import FORMATS, export

    if Path(args.output).suffix.lower() not in FORMATS:
        parser.error(f"-o needs a {' or '.join(FORMATS)} file; received {args.output!r}")
    result = export(
        args.spec, args.output, params=dict(args.params), input_shape=args.input,
        weights=args.weights, seed=args.seed, batch=args.batch,
        dynamic_batch=not args.static_batch, verify=not args.no_verify,
    )
    batch = "static batch" if args.static_batch else "dynamic batch"
    check = (f"verified, max |difference| {result.max_difference:.2g}" if result.verified
             else result.note)
    print(f"{result.path}: {result.format}, {batch}; {check}")
    return OK


def run_draw(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from netspec.views.diagram import draw

    suffix = Path(args.output).suffix.lower() if args.output else ""
    chosen: DiagramFormat = args.format or DRAW_SUFFIXES.get(suffix, "svg")
    text = draw(args.spec, format=chosen, depth=args.depth, params=dict(args.params))
    _write(text, args.output)
    return OK


def _write(text: str, output: Any) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
