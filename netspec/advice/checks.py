"""What ``netspec check`` runs on each spec, and how it reports: errors (the spec is wrong, or
breaks its own ``expect:``), lint warnings, and on request the valid input sizes. No torch.

Exit status: 1 when a spec has an error, or with ``--strict`` a warning; else 0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from netspec.advice.expect import check_expectations
from netspec.advice.lints import Lint, lint
from netspec.analysis.analysis import Report, analyze, check_memory, load
from netspec.analysis.inputs import AxisSizes, input_sizes
from netspec.core.errors import LimitError, NetspecError, Problem
from netspec.core.limits import DEFAULT_MAX_PARAMS
from netspec.reading.loader import SpecSource
from netspec.reading.spec import Spec


@dataclass(frozen=True)
class CheckResult:
    """One spec's verdict. ``report`` is None when the spec did not load."""

    label: str
    report: Report | None
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Lint, ...] = ()
    input_sizes: tuple[AxisSizes, ...] | None = None
    too_large: tuple[Problem, ...] = ()
    """Why ``build`` would refuse the network for its size (its default ``max_params``)."""

    @property
    def warning_count(self) -> int:
        return len(self.warnings) + len(self.too_large)

    def failed(self, strict: bool = False) -> bool:
        return bool(self.errors) or (strict and bool(self.warning_count))

    def entries(self) -> list[dict[str, Any]]:
        """The JSON objects of ``netspec check --format json``: errors, then warnings."""
        errors = [{**p.to_dict(), "severity": "error", "code": None} for p in self.errors]
        large = [{**p.to_dict(), "severity": "warning", "code": None} for p in self.too_large]
        return errors + large + [warning.to_dict() for warning in self.warnings]


def check_spec(
    source: SpecSource, *, params: Mapping[str, Any] | None = None, inputs: bool = False
) -> CheckResult:
    """Load and analyse ``source``; check its expectations and lints; search its input sizes
    when ``inputs``. Never raises for a wrong spec: its problems are the result's errors."""
    path = str(source) if not isinstance(source, dict) else "<spec>"
    # a sweep (--set width=8, --set width=16...) names the values on each line
    label = path + (f" ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else "")
    try:
        spec = load(source, params=params)
        report = analyze(spec)
    except NetspecError as error:
        file = path if path != "<spec>" else None
        return CheckResult(label, None, tuple(
            p if p.file or file is None else replace(p, file=file) for p in error.problems))
    errors = tuple(check_expectations(spec, report))
    sizes: tuple[AxisSizes, ...] | None = None
    if inputs:
        try:
            sizes = tuple(input_sizes(spec))
        except NetspecError as error:  # the search's work budget: said, and the check fails
            errors += error.problems
    warnings = tuple(found for found in lint(spec, report) if found.is_warning)  # notes: summary
    return CheckResult(label, report, errors, warnings, sizes, _too_large(report, spec))


def _too_large(report: Report, spec: Spec) -> tuple[Problem, ...]:
    """``build``'s own refusal (``check_memory`` at its default limit), as a warning."""
    try:
        check_memory(report, spec, DEFAULT_MAX_PARAMS, 4, "float32")
    except LimitError as error:
        return tuple(replace(p, message=f"warning: build() would refuse this network: "
                             f"{p.message}") for p in error.problems)
    return ()


def print_results(
    results: Sequence[CheckResult], *, json_format: bool, strict: bool, inputs: bool
) -> int:
    """Print as ``netspec check`` does; return its exit status."""
    if json_format:
        entries = [entry for result in results for entry in result.entries()]
        if inputs:
            sizes = {r.label: [a.to_dict() for a in r.input_sizes or ()] for r in results}
            print(json.dumps({"problems": entries, "input_sizes": sizes}, indent=2))
        else:
            print(json.dumps(entries, indent=2))
    else:
        for result in results:
            _print_text(result, strict)
    return 1 if any(result.failed(strict) for result in results) else 0


def _print_text(result: CheckResult, strict: bool) -> None:
    for problem in result.errors:
        print(problem, file=sys.stderr)
    for problem in result.too_large:
        print(problem, file=sys.stderr)
    for warning in result.warnings:
        print(warning, file=sys.stderr)
    report = result.report
    if report is None or result.errors:
        return
    count = result.warning_count
    warned = f"; {count} warning{'s' if count != 1 else ''}" if count else ""
    if result.failed(strict):
        print(f"{result.label}: failed: {count} warning{'s' if count != 1 else ''} (--strict)",
              file=sys.stderr)
    else:
        layers = len(report.top_level())
        macs = "?" if report.macs is None else f"{report.macs:,}"
        print(f"{result.label}: ok ({layers} layer{'s' if layers != 1 else ''}, "
              f"{report.params:,} params, {macs} MACs, out "
              f"{list(report.output_shape)}{warned})")
    if result.input_sizes is not None:
        print(f"{result.label}: input sizes per spatial axis (the others as in the spec):")
        for axis in result.input_sizes or ():
            print(f"  {axis}")
        if not result.input_sizes:
            print("  no spatial axes")
