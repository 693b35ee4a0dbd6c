"""Fuzzing: random valid specs agree with torch; corrupted ones fail only with ``NetspecError``.

Properties (strategies in ``tests/spec_strategies.py``):

- every valid spec loads from its YAML text, analyses and builds, and a real forward pass
  matches the analysis: the output shape (and the generator's own arithmetic), the parameter
  count, and per top-level layer the output shape and parameter count;
- chains of plugin kinds (the example plugin and a test one), each drawn from its own fields
  (``tests/kind_strategies.py``), agree with torch the same way;
- every corrupted spec either loads, and then agrees with torch as a valid one does, or raises
  ``NetspecError`` (never another exception) whose problems are located inside the document:
  a line, when given, is between 1 and the number of lines, a column at least 1; the same for
  data-level damage to a spec given as a dict (a third as many examples);
- hostile input (``tests/hostile_strategies.py``): expressions evaluate to a bounded number or
  raise ``ValueError``, and as parameters load or raise ``NetspecError``; Python sources (odd
  objects, shared lists, cycles, huge ints) raise nothing but ``NetspecError``; command lines
  exit 0, 1 or 2 (argparse), never with another exception.

``NETSPEC_FUZZ`` picks the campaign: ``ci`` (default, a few hundred examples in all, about a
minute), ``long`` (10,000 examples per property) or a number of examples per property:

    NETSPEC_FUZZ=long python -m pytest tests/test_fuzz.py -s

With ``-s``, each property prints its tally (valid specs, corrupted specs that still load,
corrupted specs refused with ``NetspecError``) when the module finishes.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec
from netspec import NetspecError
from netspec.cli import commands as cli
from netspec.reading.expressions import MAX_MAGNITUDE, evaluate
from tests.hostile_strategies import command_lines, expressions, python_sources
from tests.kind_strategies import kind_entries
from tests.plugins.kinds import Widen
from tests.plugins.setup import EXAMPLE, forget_example, registered
from tests.spec_strategies import (
    Shape,
    corrupted_data,
    corrupted_texts,
    to_yaml,
    valid_specs,
)

CAMPAIGNS = {"ci": (60, 150, 100), "long": (10_000, 10_000, 10_000)}  # valid, corrupted, hostile
CAMPAIGN = os.environ.get("NETSPEC_FUZZ", "ci")  # or a number of examples per property
VALID_EXAMPLES, CORRUPTED_EXAMPLES, HOSTILE_EXAMPLES = (
    CAMPAIGNS[CAMPAIGN] if not CAMPAIGN.isdigit() else (int(CAMPAIGN),) * 3)
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
SMALL = 2_000_000  # elements: specs under this run on the CPU, bigger ones on the meta device

TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_tally() -> Iterator[None]:
    yield
    if TALLY:
        print(f"\nfuzz campaign {CAMPAIGN!r}: " + ", ".join(
            f"{key} {count:,}" for key, count in sorted(TALLY.items())))


def agree_with_torch(spec: netspec.Spec) -> None:
    """Build ``spec`` and run one sample through it: torch must agree with the analysis."""
    report = netspec.analyze(spec)
    biggest = max([math.prod(row.out_shape) for row in report.layers] + [math.prod(spec.input)])
    small = report.params + report.buffers <= SMALL and biggest <= SMALL
    device = "cpu" if small else "meta"
    model = netspec.build(spec, device=device).eval()
    seen: dict[str, Shape] = {}
    for name, child in model.named_children():
        child.register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape[1:])))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # two samples: without running statistics, batch norm needs more than one value per
        # channel in a batch, which one sample of [C, 1, 1] cannot give (torch's rule, per batch)
        out = model(torch.randn(2, *spec.input, device=device))
    assert tuple(out.shape[1:]) == report.output_shape
    assert report.params == sum(p.numel() for p in model.parameters())
    assert report.buffers == sum(b.numel() for b in model.buffers())
    children = dict(model.named_children())
    top = report.top_level()
    assert [row.name for row in top] == list(children)
    for row in top:
        assert row.out_shape == seen[row.name], row.path
        assert row.params == sum(p.numel() for p in children[row.name].parameters()), row.path


@settings(FUZZ, max_examples=VALID_EXAMPLES)
@given(valid_specs(), st.data())
def test_valid_specs_agree_with_torch(drawn: tuple[dict[str, Any], Shape], data: Any) -> None:
    spec_data, expected = drawn
    text = to_yaml(data.draw, spec_data)
    spec = netspec.load(text)
    assert netspec.analyze(spec).output_shape == expected  # the generator's arithmetic
    agree_with_torch(spec)
    TALLY["valid"] += 1


@pytest.fixture(scope="module")
def plugin_kinds() -> Iterator[list[type[netspec.layers.Layer]]]:
    """The example plugin (imported: it registers itself) and ``Widen``, for the module."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        from netspec_example_plugin import GatedUnit

        with registered(Widen):
            yield [GatedUnit, Widen, netspec.layers.ReLU, netspec.layers.Tanh]
    finally:
        forget_example()
        sys.path.remove(str(EXAMPLE))


@settings(FUZZ, max_examples=VALID_EXAMPLES // 2)
@given(st.data())
def test_plugin_kinds_drawn_from_their_fields_agree_with_torch(
    plugin_kinds: list[type[netspec.layers.Layer]], data: Any
) -> None:
    kinds = [kind_entries(cls) for cls in plugin_kinds]
    entries = st.one_of([entries for entries in kinds if entries is not None])
    layers = data.draw(st.lists(entries, min_size=1, max_size=4))
    if data.draw(st.booleans()):
        layers += ["Flatten", data.draw(entries)]  # on [C] as well as [C, H, W]
    shape = [data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6)),
             data.draw(st.integers(1, 6))]
    spec = netspec.load({"input": shape, "layers": layers})
    agree_with_torch(spec)
    TALLY["valid with plugin kinds"] += 1


@settings(FUZZ, max_examples=CORRUPTED_EXAMPLES)
@given(corrupted_texts())
def test_corrupted_specs_fail_only_with_located_netspec_errors(text: str) -> None:
    try:
        spec = netspec.load(text)
    except NetspecError as error:
        TALLY["corrupted, refused"] += 1
        lines = text.count("\n") + 1
        assert error.problems
        for problem in error.problems:
            assert problem.message
            if problem.line is not None:
                assert 1 <= problem.line <= lines, str(problem)
                assert problem.column is None or problem.column >= 1, str(problem)
        return
    TALLY["corrupted, still valid"] += 1
    agree_with_torch(spec)


@settings(FUZZ, max_examples=CORRUPTED_EXAMPLES // 3)
@given(corrupted_data())
def test_corrupted_dicts_fail_only_with_netspec_errors(data: dict[str, Any]) -> None:
    """The same damage to a spec given as a dict: no YAML, so non-string keys, tuples and NaN
    reach the loader as they are."""
    try:
        spec = netspec.load(data)
    except NetspecError as error:
        TALLY["corrupted dict, refused"] += 1
        assert error.problems and all(problem.message for problem in error.problems)
        return
    TALLY["corrupted dict, still valid"] += 1
    agree_with_torch(spec)


# --- hostile input ---

SCOPE = {"width": 64, "depth": 3, "alpha": 0.75, "same": 1, "ReLU": 2}


@settings(FUZZ, max_examples=HOSTILE_EXAMPLES)
@given(expressions())
def test_expressions_give_a_bounded_number_or_a_netspec_error(text: str) -> None:
    try:
        value = evaluate(text, SCOPE)
    except ValueError:
        TALLY["expression, refused"] += 1
    else:
        TALLY["expression, evaluated"] += 1
        assert isinstance(value, int | float) and math.isfinite(value)
        assert abs(value) <= MAX_MAGNITUDE
    spec = {"params": {"width": 8, "value": text}, "input": [3, 8, 8],
            "layers": [{"Conv2d": {"out_channels": "value", "kernel_size": 1}}]}
    try:
        netspec.analyze(netspec.load(spec))
    except NetspecError as error:
        assert error.problems and all(problem.message for problem in error.problems)


@settings(FUZZ, max_examples=HOSTILE_EXAMPLES)
@given(python_sources())
def test_python_sources_fail_only_with_netspec_errors(source: Any) -> None:
    try:
        netspec.analyze(netspec.load(source))
    except NetspecError as error:
        TALLY["python source, refused"] += 1
        assert error.problems and all(problem.message for problem in error.problems)
        str(error).encode("utf-8")  # printable as it is
    else:
        TALLY["python source, valid"] += 1


HOSTILE_SPEC = "tests/data/hostile_fuzz.yaml"


@settings(FUZZ, max_examples=HOSTILE_EXAMPLES)
@given(command_lines(HOSTILE_SPEC))
def test_command_lines_exit_0_1_or_2(argv: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except SystemExit as exit_:  # argparse: a wrong command line
            status = exit_.code if isinstance(exit_.code, int) else 2
    TALLY[f"command line, exit {status}"] += 1
    assert status in (0, 1, 2), err.getvalue()
    err.getvalue().encode("utf-8")
