"""Valid input sizes: per spatial axis, the smallest size that gives a valid network, and the
sizes that tile exactly (no layer drops rows by floor division). No torch.

    for axis in netspec.input_sizes(spec):
        print(axis)     # H (224): valid from 1; exact (no rows dropped): 32, 64, 96, ... (every 32)

Each axis is searched on its own, the other axes keeping the spec's sizes, with the layers' own
shape rules (``analyze``) and their own ``dropped`` counts, up to ``MAX_SIZE`` (or twice the
spec's own size when that is larger).

Why it is fast: shift the input by ``P``, a multiple of every layer's cumulative stride (the
least common multiple of the jumps along the axis), and every layer's input shifts by a whole
number with the same remainders, so the same rows are dropped and the same shapes match: from
the smallest valid size on, the answer repeats every ``P`` sizes. The search analyses two
periods from there, then checks the prediction on the period from the spec's own size and on
the last period below the bound; a network whose rules do not repeat (a fixed ``Unflatten``, an
asserted ``in_features``) fails the check and is searched size by size instead.

The search has a work budget (``WORK_BUDGET``: each layer a size passes through counts one, each
layer analysed anew ``MISS_COST``): a long network that does not repeat, or a spec whose own size
is 10^8, would otherwise take minutes and gigabytes. Past the budget, a ``LimitError`` at
``input`` says which axis, which sizes were analysed, and what was found so far.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from math import lcm
from typing import TYPE_CHECKING, Any

from netspec.analysis.analysis import analyze, input_rf
from netspec.core.errors import LimitError, NetspecError
from netspec.core.shapes import Shape
from netspec.core.window import ROW_WORDS, axis_names
from netspec.layers.base import RF
from netspec.layers.plugins import blamed, checked_row, plugin_rule
from netspec.layers.walk import expanded

if TYPE_CHECKING:
    from netspec.analysis.analysis import Report
    from netspec.layers.base import Layer
    from netspec.reading.spec import Spec

__all__ = ["MAX_SIZE", "AxisSizes", "SizeSet", "input_sizes"]

MAX_SIZE = 4096
"""The largest size searched per axis."""
SHOWN = 4
"""How many members a description lists."""
SAMPLES = 64
"""Sizes checked per period of the repeating pattern when the period is longer."""

WORK_BUDGET = 1_000_000
"""Layer steps one axis's search may take: a few seconds, and about 50 MB of remembered
layer results at most."""
MISS_COST = 20
"""What a layer analysed anew costs against the budget (one remembered result costs 1)."""

Status = tuple[bool, bool]  # (valid, exact)


class _Exhausted(Exception):
    """The work budget of one axis's search is spent."""


@dataclass(frozen=True)
class SizeSet:
    """The sizes ``n <= bound`` with ``n >= smallest`` and ``n % period`` in ``residues``; or,
    when they do not repeat (``period`` None), exactly ``members``."""

    bound: int
    smallest: int | None = None
    period: int | None = None
    residues: tuple[int, ...] = ()
    members: tuple[int, ...] = ()
    """Every member when not periodic; else the first few."""

    def __contains__(self, size: object) -> bool:
        if not isinstance(size, int) or self.smallest is None or not 1 <= size <= self.bound:
            return False
        if self.period is None:
            index = bisect_left(self.members, size)
            return index < len(self.members) and self.members[index] == size
        return size >= self.smallest and size % self.period in self.residues

    def first(self, count: int) -> list[int]:
        if self.period is None:
            return list(self.members[:count])
        found: list[int] = []
        size = self.smallest or self.bound + 1
        while len(found) < count and size <= self.bound:
            if size in self:
                found.append(size)
            size += 1
        return found

    def nearest(self, size: int) -> tuple[int | None, int | None]:
        """The closest members at most and at least ``size`` (a period's steps at most, or a
        bisection: never a walk to the bound)."""
        if self.smallest is None:
            return None, None
        if self.period is None:
            index = bisect_right(self.members, size)
            below = self.members[index - 1] if index else None
            index = bisect_left(self.members, size)
            return below, self.members[index] if index < len(self.members) else None
        top = min(size, self.bound)
        below = next((n for n in range(top, max(self.smallest, top - self.period) - 1, -1)
                      if n in self), None)
        start = max(size, self.smallest)
        above = next((n for n in range(start, min(self.bound, start + self.period) + 1)
                      if n in self), None)
        return below, above

    def describe(self) -> str:
        """``32, 64, 96, ... (every 32)``, ``every size from 5``, ``none up to 4096``."""
        shown = self.first(SHOWN + 1)
        if not shown:
            return f"none up to {self.bound}"
        if self.period is None:
            more = ", ..." if len(self.members) > SHOWN else ""
            return ", ".join(map(str, shown[:SHOWN])) + more + f" (only these up to {self.bound})"
        if len(self.residues) == self.period:
            return f"every size from {self.smallest}"
        listed = ", ".join(map(str, shown[:SHOWN])) + (", ..." if len(shown) > SHOWN else "")
        if len(self.residues) == 1:
            return f"{listed} (every {self.period})"
        residues = ", ".join(map(str, self.residues))
        return f"{listed} (sizes n with n mod {self.period} in {{{residues}}})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "smallest": self.smallest,
            "period": self.period,
            "residues": list(self.residues) if self.period is not None else None,
            "first": self.first(8),
            "searched_up_to": self.bound,
        }


@dataclass(frozen=True)
class AxisSizes:
    """The answer for one spatial axis of the input (``dim`` counts the channels as 0)."""

    dim: int
    name: str
    size: int
    valid: SizeSet
    exact: SizeSet
    checked: int = field(default=0, compare=False)
    """How many sizes were analysed to find this."""

    def __str__(self) -> str:
        word = ROW_WORDS.get(self.name, "positions")
        smallest = self.valid.smallest
        text = f"{self.name} ({self.size}): " + (
            f"valid from {smallest}" if smallest is not None else
            f"no valid size up to {self.valid.bound}"
        )
        text += f"; exact (no {word} dropped): {self.exact.describe()}"
        if self.size in self.exact:
            return text + f"; {self.size} is exact"
        below, above = self.exact.nearest(self.size)
        nearest = " and ".join(str(n) for n in (below, above) if n is not None)
        return text + f"; {self.size} drops {word}" + (f", nearest exact: {nearest}"
                                                       if nearest else "")

    def to_dict(self) -> dict[str, Any]:
        below, above = self.exact.nearest(self.size)
        return {
            "dim": self.dim,
            "name": self.name,
            "size": self.size,
            "smallest_valid": self.valid.smallest,
            "valid": self.valid.to_dict(),
            "exact": self.exact.to_dict(),
            "size_is_exact": self.size in self.exact,
            "nearest_exact": [below, above],
        }


def input_sizes(spec: Spec, *, bound: int = MAX_SIZE) -> list[AxisSizes]:
    """One ``AxisSizes`` per spatial axis of ``spec``'s input (none for ``[784]``)."""
    report = analyze(spec)
    names = axis_names(len(spec.input) - 1)
    return [
        _search(spec, dim, names[dim - 1], _period(report, dim - 1),
                max(bound, 2 * spec.input[dim]))
        for dim in range(1, len(spec.input))
    ]


class _Walker:
    """``(valid, exact)`` per input size, remembering what each top-level layer gives for each
    input it has seen: deeper layers see one input for many sizes (after a stride of 32, for
    32 of them), so most sizes cost a few layers. The names of the layers, the one check that
    does not depend on the input, were checked by ``analyze``."""

    def __init__(self, spec: Spec, dim: int) -> None:
        self.spec, self.dim = spec, dim
        self.layers = _chained(layer for _, layer in expanded(spec.layers))
        self.seen: list[dict[tuple[Shape, RF], tuple[Shape, RF, bool] | None]] = [
            {} for _ in self.layers
        ]
        self.work = 0
        self.budget: int | None = None
        """``_Exhausted`` once ``work`` passes it (None: no budget, for one size)."""

    def _spend(self, amount: int) -> None:
        self.work += amount
        if self.budget is not None and self.work > self.budget:
            raise _Exhausted

    def __call__(self, size: int) -> Status:
        shape = list(self.spec.input)
        shape[self.dim] = size
        state: tuple[Shape, RF] = (tuple(shape), input_rf(tuple(shape)))
        exact = True
        self._spend(1)
        for layer, seen in zip(self.layers, self.seen, strict=True):
            self._spend(1)
            if state not in seen:
                self._spend(MISS_COST)
                seen[state] = self._through(layer, *state)
            result = seen[state]
            if result is None:
                return False, False
            out_shape, out_rf, drops = result
            exact = exact and not drops
            state = (out_shape, out_rf)
        return True, exact

    def _through(self, layer: Layer, shape: Shape, rf: RF) -> tuple[Shape, RF, bool] | None:
        try:
            with plugin_rule(layer, "shape rule or counts"):
                rows = layer.report(shape, rf, index=0, name="", path=(), depth=0)
                rows[0] = checked_row(layer, rows[0])
            drops = any(_dropped(row.layer, row.in_shape, self.dim) for row in rows)
        except NetspecError:
            return None
        except Exception as error:  # a plugin kind inside a composite, or asked its windows
            if blamed(error) is None:
                raise
            return None
        return rows[0].out_shape, rows[0].rf, drops


def _chained(layers: Iterable[Layer]) -> list[Layer]:
    """Layers in order, groups that are nothing but a sequence opened up."""
    found: list[Layer] = []
    for layer in layers:
        inner = layer.chain()
        found.extend(_chained(inner) if inner is not None else [layer])
    return found


def status(spec: Spec, dim: int, size: int) -> Status:
    """(valid, exact) for the input with ``size`` on ``dim``, other dims as in ``spec``."""
    return _Walker(spec, dim)(size)


def _dropped(layer: Layer | None, in_shape: Shape, dim: int) -> int:
    counts = layer.dropped(in_shape) if layer is not None else ()
    return counts[dim - 1] if len(counts) >= dim else 0


def _period(report: Report, axis: int) -> int:
    """The least common multiple of every positional jump's numerator along ``axis``."""
    period = 1
    for row in report.layers:
        if len(row.rf) > axis and row.rf[axis].positional:
            period = lcm(period, row.rf[axis].jump.numerator)
    return period


def _search(spec: Spec, dim: int, name: str, period: int, bound: int) -> AxisSizes:
    seen: dict[int, Status] = {}
    walker = _Walker(spec, dim)
    walker.budget = WORK_BUDGET
    try:
        return _searched(spec, dim, name, period, bound, seen, walker)
    except _Exhausted:
        valid = sorted(n for n, found in seen.items() if found[0])
        exact = sorted(n for n, found in seen.items() if found[1])
        analysed = _ranges(sorted(seen))
        found = (f"valid: {_ranges(valid)}; exact: {_ranges(exact)}" if valid
                 else "none of them is valid")
        count = len(walker.layers)
        plural = "" if count == 1 else "s"
        raise LimitError(spec.source.problem(("input", dim), (
            f"the search for input sizes on axis {name} (here {spec.input[dim]}) stopped at its "
            f"work budget ({WORK_BUDGET:,} layer steps, {count:,} layer{plural} per size, "
            f"searching 1 to {bound:,}): sizes analysed: {analysed}; {found}. A network "
            "this long or an input this large is searched only in part: drop --inputs, or "
            "search a smaller input (--input)"))) from None


def _ranges(sizes: list[int], shown: int = 3) -> str:
    """``1-64, 4096, 8190-8191`` for sorted sizes: the first few runs, then ``...``."""
    runs: list[list[int]] = []
    for size in sizes:
        if runs and size == runs[-1][1] + 1:
            runs[-1][1] = size
        else:
            runs.append([size, size])
    text = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in runs[:shown])
    return (text + (", ..." if len(runs) > shown else "")) or "none"


def _searched(
    spec: Spec, dim: int, name: str, period: int, bound: int, seen: dict[int, Status],
    walker: _Walker,
) -> AxisSizes:

    def at(size: int) -> Status:
        if size not in seen:
            seen[size] = walker(size)
        return seen[size]

    size = spec.input[dim]
    smallest = next((n for n in range(1, bound + 1) if at(n)[0]), None)
    if smallest is None:
        empty = SizeSet(bound)
        return AxisSizes(dim, name, size, empty, empty, len(seen))
    if 2 * period <= bound - smallest and _repeats(at, smallest, period, size, bound):
        valid = _periodic(lambda n: at(n)[0], smallest, period, bound)
        exact = _periodic(lambda n: at(n)[1], smallest, period, bound)
    else:
        statuses = {n: at(n) for n in range(1, bound + 1)}
        valid, exact = (
            _listed([n for n, found in statuses.items() if found[k]], bound) for k in (0, 1)
        )
    return AxisSizes(dim, name, size, valid, exact, len(seen))


def _repeats(
    at: Callable[[int], Status], smallest: int, period: int, size: int, bound: int
) -> bool:
    """Does the pattern from ``smallest`` repeat every ``period``, around ``size`` and up to
    ``bound``?"""
    base = {n: at(n) for n in range(smallest, smallest + period)}

    def predicted(n: int) -> Status:
        return base[smallest + (n - smallest) % period]

    step = max(1, period // SAMPLES)  # a long period is checked at SAMPLES spread sizes
    checks = [*range(smallest + period, smallest + 2 * period, step),
              *range(max(smallest, size), min(bound, size + period - 1) + 1, step),
              *range(max(smallest, bound - period + 1), bound + 1, step)]
    return all(at(n) == predicted(n) for n in checks)


def _periodic(member: Callable[[int], bool], smallest: int, period: int, bound: int) -> SizeSet:
    hits = [n for n in range(smallest, smallest + period) if member(n)]
    if not hits:
        return SizeSet(bound)
    residues = {n % period for n in hits}
    for shorter in range(1, period):  # the shortest period of the pattern: every 2, not 32
        if period % shorter == 0 and {(r + shorter) % period for r in residues} == residues:
            period, residues = shorter, {r % shorter for r in residues}
            break
    found = SizeSet(bound, hits[0], period, tuple(sorted(residues)))
    return SizeSet(bound, hits[0], period, found.residues, tuple(found.first(8)))


def _listed(members: list[int], bound: int) -> SizeSet:
    if not members:
        return SizeSet(bound)
    return SizeSet(bound, members[0], None, (), tuple(members))
