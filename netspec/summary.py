"""The summary of a spec: its analysis, and whether torchinfo confirmed it on the built module.

    summary = netspec.summary("specs/lenet5.yaml")
    print(summary)                  # the table
    summary.to_markdown()           # the same, as Markdown
    summary.to_json()               # stable JSON, documented in docs/json-format.md

This module imports no torch: ``confirm=False`` stays torch-free, and ``confirm=True`` loads
torch and torchinfo only inside ``netspec.confirm``. Facts (``Report``), checks (``confirm``)
and formatting (``render``) are separate files, as torchinfo separates ``LayerInfo``,
``ModelStatistics`` and ``FormattingOptions``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import render
from .analysis import Report, analyze
from .errors import Problem, SpecError
from .loader import SpecSource, load
from .spec import MAX_INPUT_DIMS, Spec

SCHEMA_VERSION = 1
"""Bumped only when a key of ``to_dict`` changes meaning or disappears; new keys may be added."""


@dataclass(frozen=True)
class Summary:
    """A spec's ``Report`` and the torchinfo version that confirmed it (None: not confirmed).

    ``str(summary)`` is the table. Every number comes from the report; a summary with
    ``confirmed_by`` set exists only if torch agreed with every one of them.
    """

    report: Report
    confirmed_by: str | None = None
    depth: int | None = None
    """Rows nested deeper than this are left out of the table and Markdown (not the JSON)."""

    @property
    def confirmed(self) -> bool:
        return self.confirmed_by is not None

    def to_table(self) -> str:
        return render.table(self._shown(), self.confirmed_by)

    def to_markdown(self) -> str:
        return render.markdown(self._shown(), self.confirmed_by)

    def _shown(self) -> Report:
        """The report with rows deeper than ``depth`` collapsed into their groups' rows."""
        if self.depth is None:
            return self.report
        rows = tuple(row for row in self.report.layers if row.depth <= self.depth)
        return replace(self.report, layers=rows)

    def to_dict(self) -> dict[str, Any]:
        """``Report.to_dict()`` plus the schema and netspec versions and ``confirmed_by``."""
        from . import __version__

        return {
            "schema_version": SCHEMA_VERSION,
            "netspec_version": __version__,
            "confirmed_by": self.confirmed_by,
            **self.report.to_dict(),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        return self.to_table()


def summary(
    source: SpecSource,
    *,
    input_shape: Sequence[int] | None = None,
    confirm: bool = True,
    params: Mapping[str, Any] | None = None,
    depth: int | None = None,
) -> Summary:
    """Analyse a spec and, unless ``confirm=False``, confirm the analysis with torchinfo.

    ``source`` is anything ``netspec.load`` takes; ``input_shape`` (one sample, no batch
    dimension) replaces the spec's ``input``; ``params`` overrides its ``params:``; ``depth``
    collapses the table to rows nested at most that deep. Confirmation builds the network on
    the meta device, so it costs no weight memory. Raises ``SpecError`` for a wrong spec and
    ``ConfirmationError`` (a netspec bug) when torch disagrees with the analysis.
    """
    spec = load(source, params=params)
    if input_shape is not None:
        spec = spec.with_input(check_input_shape(input_shape, spec))
    report = analyze(spec)
    if not confirm:
        return Summary(report, depth=depth)
    from .confirm import confirm_report

    return Summary(report, confirm_report(spec, report), depth)


def check_input_shape(shape: Sequence[int], spec: Spec) -> tuple[int, ...]:
    """An overriding input shape follows the same rule as ``input:`` in a spec."""
    values = tuple(shape)
    valid = all(type(size) is int and size > 0 for size in values)
    if not valid or not 1 <= len(values) <= MAX_INPUT_DIMS:
        raise SpecError(Problem(
            f"an input shape is 1 to {MAX_INPUT_DIMS} positive sizes for one sample, without "
            f"the batch dimension (such as 3x224x224); received {list(values)}",
            ("input",),
            spec.source.file,
        ))
    return values
