"""The harness that confirms receptive fields empirically: the gradient of one output unit is
non-zero exactly on the analysed window of the input. ``tests/layers/test_receptive_field.py``
runs it.

Method. For a spec, build the network on the meta device and turn it into a linear network with
strictly positive coefficients, in float64 on the CPU:

- every convolution (and transposed convolution) gets constant positive weights ``1 / fan_in``
  and zero bias; every ``Linear`` becomes a mean over its input features (the same dependence
  as positive weights, without allocating VGG's 100M-weight classifier);
- max pools become sums over the same windows (a depthwise convolution of ones with the pool's
  kernel, stride, padding, dilation and ``ceil_mode``): max routes the gradient to one input of
  its window, a sum keeps all of them alive. (Not ``AvgPool``: it has no dilation, and torch's
  ``avg_pool3d`` refuses an input smaller than the kernel that ``max_pool3d`` pads and accepts.)
  Adaptive max pools become adaptive average pools;
- attention (``MultiheadAttention``, ``TransformerEncoderLayer``) becomes the mean of all tokens
  and features; a class token a constant zero token; token selection and mean are kept;
- activations, dropout, normalisation layers and position embeddings become ``Identity``: they
  act on each position (in eval mode), so they never change which inputs a unit depends on;
- average pools, flatten, upsampling and the layout changes (``Permute``, ``ChannelShuffle``,
  ``Chunk``, ``Narrow``) are kept as they are; containers (``Sequential``, netspec's
  ``Residual``, ``Parallel`` and ``Gate``) keep their structure with their children replaced
  (a product of two positive maps, ``Gate`` or ``Parallel`` with ``merge: mul``, has a
  non-zero gradient wherever either factor depends on the input, as a sum does).

Every coefficient of the resulting map is then positive, so the gradient of an output unit with
respect to an all-ones input is non-zero exactly at the input positions the unit depends on.

The expected set comes from the analysis alone. Per spatial axis, unit ``i`` of a row covers
``start + i * jump +- (size - 1) / 2``; the units of the row below whose analysed windows tile
that span are the ones it reads. Those outside the row below are padding and read nothing, and
so on down to the input. Away from borders this is simply the analysed window; at borders it is
the window clipped to what the network really reads (a floor-mode layer drops the last pixels:
NiN's 11/4 convolution never reads pixels 219 to 223 of its 224). Windows of consecutive rows
that do not tile in whole units are reported as an analysis error. A composite row (a
``Sequential`` or a named block) counts as the chain of its children; a branching row
(``Parallel``, ``Residual``) as one level whose field covers all its paths, so the gradient is
taken of the unit summed over all its channels (concatenated branches own different channels).

For chosen units (the corner ``(0, ...)``, which tests ``start`` against padding, the centre and
the far corner) at several depths (the first layer that grows the field, a middle one, the last
spatial one, and the network's output), the test asserts that the gradient is non-zero exactly
on that set. When a layer can leave holes in the window (dilation, or a stride longer than the
kernel), the gradient must stay inside the window and, unless a border cut it, span all of it.

Skipped, because the field is not an integer window there: rows after a transposed convolution,
an upsampling or an adaptive pool with unequal windows (inside a block: any adaptive pool that
is not global), rows after ``Flatten`` but the output (``tests/resampling_support.py`` measures
the first two). Large specs run on a smaller input (``affordable``) to keep this file fast.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import nn

import netspec
from netspec.analysis.analysis import Report
from netspec.core.shapes import AxisRF
from netspec.layers.base import LayerReport
from tests.positive_linear import (
    breaks_exactness,
    may_leave_holes,
    positive_linear,
)

__all__ = ["affordable", "confirm_windows", "largest_field_rows", "observed", "positive_linear"]

# The field does not depend on the input size except through clipping at the borders, which a
# smaller input tests just as well: a spec above MAX_MACS runs on its input divided by the
# smallest integer that brings it within MAX_MACS, or failing that on the smallest input it
# accepts (float64 convolutions are slow, and these tests should stay fast on two cores).
MAX_MACS = 60_000_000
DIVISORS = range(2, 33)

Box = tuple[tuple[int, int], ...]  # per axis [lo, hi]; lo > hi: the unit reads only padding


# --- the expected set, from the analysis alone ---


@dataclass(frozen=True)
class Level:
    """The input, or one spatial row of the analysis: its field and output sizes per axis."""

    rf: tuple[AxisRF, ...]
    sizes: tuple[int, ...]
    name: str


class NotWholeUnits(Exception):
    """The analysed windows of two consecutive rows do not tile in whole units."""


def _edges(axis: AxisRF, first: Fraction, last: Fraction) -> tuple[Fraction, Fraction]:
    """From the left edge of unit ``first``'s window to the right edge of unit ``last``'s."""
    half = Fraction(axis.size - 1, 2)
    return axis.start + first * axis.jump - half, axis.start + last * axis.jump + half


def expected_support(chain: list[Level], unit: tuple[int, ...]) -> tuple[Box, bool]:
    """Per axis the input span that ``unit`` of ``chain[-1]`` reads, and whether a border cut
    it; walks the analysed windows down the chain (see the module docstring)."""
    box, cut = [], False
    for axis, index in enumerate(unit):
        first = last = Fraction(index)
        for upper, lower in zip(chain[:0:-1], chain[-2::-1], strict=True):
            lo, hi = _edges(upper.rf[axis], first, last)
            lower_lo, lower_hi = _edges(lower.rf[axis], Fraction(0), Fraction(0))
            jump = lower.rf[axis].jump
            first, last = (lo - lower_lo) / jump, (hi - lower_hi) / jump
            if first.denominator != 1 or last.denominator != 1:
                raise NotWholeUnits(
                    f"axis {axis}: the window of {upper.name} spans units {first} to {last} of "
                    f"{lower.name}, not whole units"
                )
            n = lower.sizes[axis]
            cut = cut or first < 0 or last > n - 1
            first, last = max(first, Fraction(0)), min(last, Fraction(n - 1))
            if first > last:
                break  # reads only padding
        box.append((int(first), int(last)))
    return tuple(box), cut


@dataclass(frozen=True)
class Probe:
    """One output unit of one row, and what the analysis says it reads."""

    row: LayerReport
    unit: tuple[int, ...]  # index into the row's output, without batch or channel; () if flat
    window: Box | None  # None: the analysis is inconsistent, see ``error``
    holes: bool  # a layer may leave unseen pixels inside the window
    cut: bool  # a border cut the window
    error: str = ""


def sequence(rows: tuple[LayerReport, ...], index: int) -> list[int]:
    """Row ``index`` as the chain of rows it is made of: a composite row (a ``Sequential`` or a
    named block) becomes its children, each expanded in turn, so the borders inside it count.
    Branching rows (``Parallel``, ``Residual``, ``Gate``) stay one level: their field covers
    all paths."""
    row = rows[index]
    children = []
    for later in range(index + 1, len(rows)):
        if rows[later].depth <= row.depth:
            break
        if rows[later].depth == row.depth + 1:
            children.append(later)
    kids = [rows[k] for k in children]
    chained = bool(kids) and row.kind not in ("Parallel", "Residual", "Gate") and (
        kids[0].in_shape == row.in_shape
        and all(a.out_shape == b.in_shape for a, b in itertools.pairwise(kids))
        and (kids[-1].out_shape, kids[-1].rf) == (row.out_shape, row.rf)
    )
    if not chained:
        return [index]
    return [inner for child in children for inner in sequence(rows, child)]


def probes(report: Report, model: nn.Sequential) -> list[Probe]:
    """The units to test: a few depths, three units each (see the module docstring)."""
    input_shape = report.input_shape
    rank = len(input_shape) - 1
    rows = report.top_level()
    top = [index for index, row in enumerate(report.layers) if row.depth == 0]

    def spatial(row: LayerReport) -> bool:
        return len(row.out_shape) == rank + 1 and len(row.rf) == rank

    chain = [Level(tuple(AxisRF() for _ in range(rank)), tuple(input_shape[1:]), "the input")]
    candidates: list[tuple[int, bool, list[Level]]] = []
    exact, holes = True, False
    previous_rf = None
    for index, (row, module) in enumerate(zip(rows, model.children(), strict=True)):
        holes = holes or may_leave_holes(module, row.in_shape)
        exact = exact and not breaks_exactness(module, row.in_shape)
        if not exact or not spatial(row):
            continue
        inner = [report.layers[i] for i in sequence(report.layers, top[index])]
        chain = [*chain, *(Level(r.rf, r.out_shape[1:], r.path) for r in inner if spatial(r))]
        if row.rf != previous_rf:
            candidates.append((index, holes, chain))
        previous_rf = row.rf
    chosen = {0, len(candidates) // 2, len(candidates) - 1} if candidates else set()
    targets = []
    for index, with_holes, levels in (candidates[i] for i in sorted(chosen)):
        row = rows[index]
        sizes = row.out_shape[1:]
        for unit in sorted({(0,) * rank, tuple((n - 1) // 2 for n in sizes),
                            tuple(n - 1 for n in sizes)}):
            if all(axis.positional or not i for axis, i in zip(row.rf, unit, strict=True)):
                targets.append((row, unit, with_holes, levels))
    last = rows[-1]
    if exact and len(last.out_shape) == 1 and len(last.rf) == rank:
        levels = [*chain, Level(last.rf, (1,) * rank, last.path)]
        targets.append((last, (), holes, levels))
    result = []
    for row, unit, with_holes, levels in targets:
        try:
            window, cut = expected_support(levels, unit or (0,) * rank)
        except NotWholeUnits as error:
            result.append(Probe(row, unit, None, with_holes, False, str(error)))
        else:
            result.append(Probe(row, unit, window, with_holes, cut))
    return result


# --- the observed set: the gradient ---


def observed(grad: torch.Tensor) -> torch.Tensor:
    """Input positions (spatial) with a non-zero gradient, over all input channels."""
    return grad[0].ne(0).any(dim=0)


def bounding_box(mask: torch.Tensor) -> Box | None:
    if not mask.any():
        return None
    box = []
    for axis in range(mask.dim()):
        others = tuple(a for a in range(mask.dim()) if a != axis)
        seen = mask.any(dim=others) if others else mask
        where = seen.nonzero().flatten()
        box.append((int(where[0]), int(where[-1])))
    return tuple(box)


def box_mask(box: Box, shape: tuple[int, ...]) -> torch.Tensor:
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[tuple(slice(lo, hi + 1) for lo, hi in box)] = True
    return mask


def mismatch(probe: Probe, mask: torch.Tensor) -> str | None:
    """How the gradient support ``mask`` differs from the probe's analysed window, if it does."""
    seen = bounding_box(mask)
    if probe.window is None:
        return f"{probe.error} (gradient on {seen})"
    if any(lo > hi for lo, hi in probe.window):
        return None if seen is None else f"analysed: reads only padding; gradient on {seen}"
    inside = box_mask(probe.window, tuple(mask.shape))
    claim = f"analysed window {probe.window}, gradient on {seen}"
    if (mask & ~inside).any():
        return claim
    if probe.holes:  # dilation or long strides: the extent must match where nothing was cut
        return claim if not probe.cut and seen != probe.window else None
    if not torch.equal(mask, inside):
        return claim if seen != probe.window else f"gradient has holes inside {probe.window}"
    return None


def confirm_windows(spec: netspec.Spec) -> list[Probe]:
    """Check every probe of ``spec``; returns the probes checked, fails with all mismatches."""
    report = netspec.analyze(spec)
    meta = netspec.build(spec, device="meta")
    rows = report.top_level()
    checks = probes(report, meta)
    model = positive_linear(meta)
    x = torch.ones(1, *spec.input, dtype=torch.float64, requires_grad=True)
    outputs = []
    y = x
    for module in model:
        y = module(y)
        outputs.append(y)
    failures = []
    for probe in checks:
        out = outputs[rows.index(probe.row)]
        # every channel of the unit: concatenated branches each own some channels
        unit = out[(0, slice(None), *probe.unit)].sum() if probe.unit else out[0].sum()
        (grad,) = torch.autograd.grad(unit, x, retain_graph=True)
        problem = mismatch(probe, observed(grad))
        if problem:
            where = f"{spec.name} {probe.row.path} ({probe.row.kind}) unit {probe.unit}"
            failures.append(f"{where}: {problem}")
    assert not failures, "\n".join(failures)
    return checks


# --- every spec with spatial layers ---


def affordable(spec: netspec.Spec) -> netspec.Spec:
    """``spec`` on an input within ``MAX_MACS``, or on the smallest input it accepts."""
    if netspec.analyze(spec).macs <= MAX_MACS:
        return spec
    channels, *sizes = spec.input
    cheapest = spec
    for divisor in DIVISORS:
        smaller = spec.with_input((channels, *(max(1, n // divisor) for n in sizes)))
        try:
            macs = netspec.analyze(smaller).macs
        except netspec.NetspecError:
            break  # too small for this network
        cheapest = smaller
        if macs <= MAX_MACS:
            break
    return cheapest


def largest_field_rows(spec: netspec.Spec) -> int:
    """The most input rows (H) that one output unit of a ``[C, H, W]`` network reads, over
    the units of the middle column, from gradients (contributions below 1e-30 of the largest
    left out: Swin's -100 attention mask leaves e^-100 weights, not zeros)."""
    model = netspec.build(spec, dtype=torch.float64).eval()
    x = torch.randn(1, *spec.input, dtype=torch.float64, requires_grad=True)
    out = model(x)
    sizes = []
    for unit in range(out.shape[2]):
        (grad,) = torch.autograd.grad(out[0, :, unit, out.shape[3] // 2].square().sum(), x,
                                      retain_graph=True)
        seen = grad.abs().amax(dim=(0, 1, 3))
        rows = torch.nonzero(seen > seen.max() * 1e-30).flatten()
        sizes.append(int(rows.max() - rows.min()) + 1)
    return max(sizes)
