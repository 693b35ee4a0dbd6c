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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from netspec.advice.expect import check_expectations
from netspec.advice.lints import Lint, lint
from netspec.analysis.analysis import Report, analyze, check_memory, load
from netspec.analysis.inputs import AxisSizes, input_sizes
from netspec.analysis.memory import Memory
from netspec.analysis.memory import memory as count_memory
from netspec.core.errors import Problem
from netspec.reading.loader import SpecSource
from netspec.reading.spec import check_input_shape
from netspec.views import render
from netspec.views.explain import explain as explain_text
from netspec.views.explain import explain_row

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
    confirmation: Mapping[str, Any] | None = None
    """When confirmed: who confirmed, and torchinfo's own figures, shown beside netspec's:
    ``torchinfo_mult_adds`` (biases and norms charged too), ``torchinfo_params_bytes``,
    ``torchinfo_forward_backward_bytes`` (``netspec.torch_side.confirm.Confirmation``)."""
    batch: int = 1
    """The batch size the memory totals are given for (``--batch``)."""
    depth: int | None = None
    """Rows nested deeper than this are left out of the table and Markdown (not the JSON)."""
    lints: tuple[Lint, ...] = ()
    """Lint warnings and notes (``netspec.lints``): warnings listed under the table, notes too
    with ``notes`` or ``explain``; the JSON has both, each with its severity."""
    notes: bool = False
    """List the lint notes under the table too (``summary --notes``)."""
    explain: bool = False
    """Each layer's arithmetic under the table, and as ``explain`` in the JSON rows."""
    input_sizes: tuple[AxisSizes, ...] | None = None
    """Valid and exact input sizes per spatial axis (``netspec.inputs``), when asked for."""
    weights: Mapping[str, Any] | None = None
    """With ``weights=``: ``{"source", "tensors", "matched_by"}`` of the weights that loaded."""
    unmet: tuple[Problem, ...] = ()
    """The spec's ``expect:`` entries that the analysis contradicts (located); ``netspec
    summary`` prints the summary, then these, and exits 1, as ``check`` does."""

    @property
    def confirmed(self) -> bool:
        return self.confirmed_by is not None

    @property
    def memory(self) -> Memory:
        return count_memory(self.report, self.batch)

    def _shown_lints(self) -> list[str]:
        """The warnings, then (with ``notes`` or ``explain``) the notes, one line each."""
        warnings = [found.summary_line() for found in self.lints if found.is_warning]
        if self.notes or self.explain:
            warnings += [f"(note) {found.summary_line()}" for found in self.lints
                         if not found.is_warning]
        return warnings

    def to_table(self) -> str:
        warnings = self._shown_lints()
        return render.table(self._shown(), self.confirmed_by, warnings, self.confirmation,
                            self.memory) + self._sections()

    def to_markdown(self) -> str:
        warnings = self._shown_lints()
        sections = self._sections()
        fenced = f"\n```text\n{sections.lstrip()}```\n" if sections else ""
        return render.markdown(self._shown(), self.confirmed_by, warnings, self.confirmation,
                               self.memory) + fenced

    def _sections(self) -> str:
        """The weights line, the explanation and the input sizes, when asked for, after a blank
        line each."""
        text = ""
        if self.weights is not None:
            text += (f"\nWeights: {self.weights['source']} loads: {self.weights['tensors']} "
                     f"tensors matched by {self.weights['matched_by']}.\n")
        if self.explain:
            text += "\n" + explain_text(self._shown())
        if self.input_sizes is not None:
            lines = [str(axis) for axis in self.input_sizes] or ["no spatial axes"]
            text += "\nInput sizes per spatial axis (the others as in the spec):\n" + "".join(
                f"  {line}\n" for line in lines)
        return text

    def _shown(self) -> Report:
        """The report with rows deeper than ``depth`` collapsed into their groups' rows."""
        if self.depth is None:
            return self.report
        rows = tuple(row for row in self.report.layers if row.depth <= self.depth)
        return replace(self.report, layers=rows)

    def to_dict(self) -> dict[str, Any]:
        """``Report.to_dict()`` plus the schema and netspec versions and ``confirmed_by``."""
        from netspec.core.version import __version__

        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "netspec_version": __version__,
            "confirmed_by": self.confirmed_by,
            "confirmation": None if self.confirmation is None else dict(self.confirmation),
            **self.report.to_dict(),
            "memory": self.memory.to_dict(),
            "lints": [warning.to_dict() for warning in self.lints],
        }
        if self.explain:
            for row, layer in zip(self.report.layers, data["layers"], strict=True):
                layer["explain"] = explain_row(row)
        if self.input_sizes is not None:
            data["input_sizes"] = [axis.to_dict() for axis in self.input_sizes]
        if self.weights is not None:
            data["weights"] = dict(self.weights)
        return data

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
    max_params: int | None = None,
    explain: bool = False,
    inputs: bool = False,
    weights: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    notes: bool = False,
    batch: int = 1,
) -> Summary:
    """Analyse a spec and, unless ``confirm=False``, confirm the analysis with torchinfo.

    ``source`` is anything ``netspec.load`` takes; ``input_shape`` (one sample, no batch
    dimension) replaces the spec's ``input``; ``params`` overrides its ``params:``; ``depth``
    collapses the table to rows nested at most that deep; ``max_params`` refuses a network
    with more parameter and buffer elements, as ``build`` does by default. Confirmation runs
    torchinfo on a batch of zero samples over never-written weight storage (``netspec.empty_batch``,
    the meta device as fallback), so it costs no resident weight memory. Raises ``SpecError`` for a
    wrong spec and ``ConfirmationError`` (a netspec bug) when torch disagrees with the analysis.
    The summary lists the lint warnings (``notes`` or ``explain``: the notes too); ``explain``
    adds each layer's arithmetic and ``inputs`` the valid and exact input sizes; ``batch`` is
    the batch size of the memory totals (``netspec.analysis.memory``). ``weights`` (a state
    dict or a file holding one) is loaded into the spec's model built on the CPU
    (``netspec.load_weights``): weights that do not fit raise ``NetspecError``; the summary says
    how they were matched.
    """
    spec = load(source, params=params)
    if input_shape is not None:
        spec = spec.with_input(check_input_shape(input_shape, spec))
    report = analyze(spec)
    if max_params is not None:  # what build() would refuse; the summary allocates nothing
        check_memory(report, spec, max_params, 4, "float32")
    if batch < 1:
        raise ValueError(f"batch must be a positive number of samples; received {batch}")
    result = Summary(report, depth=depth, lints=tuple(lint(spec, report)), explain=explain,
                     notes=notes, batch=batch,
                     input_sizes=tuple(input_sizes(spec)) if inputs else None,
                     unmet=tuple(check_expectations(spec, report)))
    if weights is not None:
        from netspec.torch_side.build import check_weights

        result = replace(result, weights=check_weights(spec, weights))
    if not confirm:
        return result
    from netspec.torch_side.confirm import confirm_report

    confirmed = confirm_report(spec, report)
    return replace(result, confirmed_by=confirmed.confirmed_by, confirmation=confirmed.to_dict())
