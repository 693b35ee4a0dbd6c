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
- activations, dropout and normalisation layers become ``Identity``: they act on each position
  separately (in eval mode), so they never change which inputs a unit depends on;
- average pools, flatten and upsampling are kept as they are; containers (``Sequential``,
  netspec's ``Residual`` and ``Parallel``) keep their structure with their children replaced.

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
import torch.nn.functional as F
from torch import nn

import netspec
from netspec.analysis.analysis import Report
from netspec.core.shapes import AxisRF
from netspec.layers.base import LayerReport

# The field does not depend on the input size except through clipping at the borders, which a
# smaller input tests just as well: a spec above MAX_MACS runs on its input divided by the
# smallest integer that brings it within MAX_MACS, or failing that on the smallest input it
# accepts (float64 convolutions are slow, and these tests should stay fast on two cores).
MAX_MACS = 60_000_000
DIVISORS = range(2, 33)

Box = tuple[tuple[int, int], ...]  # per axis [lo, hi]; lo > hi: the unit reads only padding


# --- turning a built network into a positive linear one ---


class MeanFeatures(nn.Module):
    """Each of ``out_features`` outputs is the mean of all input features (a positive Linear)."""

    def __init__(self, out_features: int) -> None:
        super().__init__()
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        return mean.expand(*x.shape[:-1], self.out_features)


class WindowSum(nn.Module):
    """The sum over each window of a max pool (any dilation, padding and ``ceil_mode``)."""

    def __init__(self, pool: nn.modules.pooling._MaxPoolNd) -> None:
        super().__init__()
        self.pool = pool  # kept on the meta device, to give the output size
        self.rank = int(type(pool).__name__[-2])  # MaxPool2d -> 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rank, pool = self.rank, self.pool
        kernel, stride = _tuple(pool.kernel_size, rank), _tuple(pool.stride, rank)
        padding, dilation = _tuple(pool.padding, rank), _tuple(pool.dilation, rank)
        with torch.no_grad():
            out_size = pool(torch.empty(x.shape, device="meta")).shape[2:]
        pads: list[int] = []
        for k, s, p, d in reversed(list(zip(kernel, stride, padding, dilation, strict=True))):
            pads += [p, p + s + d * (k - 1)]  # room on the right for ceil_mode's last window
        channels = x.shape[1]
        weight = torch.ones(channels, 1, *kernel, dtype=x.dtype)
        conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
        y = conv(F.pad(x, pads), weight, stride=stride, dilation=dilation, groups=channels)
        return y[(..., *(slice(0, n) for n in out_size))]


def _tuple(value: int | tuple[int, ...], rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,) * rank


KEPT = (
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.Flatten,
    nn.Unflatten,
    nn.Upsample,
)


def positive_linear(module: nn.Module) -> nn.Module:
    """The module's positive linear stand-in (see the module docstring); containers (netspec's
    ``Residual`` and ``Parallel``, ``nn.Sequential``) keep their structure, children replaced."""
    if isinstance(module, nn.modules.conv._ConvNd):
        module = module.to_empty(device="cpu").to(torch.float64)
        with torch.no_grad():
            module.weight.fill_(1.0 / module.weight[0].numel())
            if module.bias is not None:
                module.bias.zero_()
        return module.requires_grad_(False)
    if isinstance(module, nn.Linear):
        return MeanFeatures(module.out_features)
    if isinstance(module, nn.modules.pooling._MaxPoolNd):
        return WindowSum(module)
    if isinstance(module, nn.modules.pooling._AdaptiveMaxPoolNd):
        return getattr(nn, type(module).__name__.replace("Max", "Avg"))(module.output_size)
    if isinstance(module, KEPT):
        return module
    if next(module.children(), None) is not None:
        for name, child in list(module.named_children()):
            module._modules[name] = positive_linear(child)
        return module
    return nn.Identity()  # pointwise: activations, dropout, norms


def breaks_exactness(module: nn.Module, in_shape: tuple[int, ...]) -> bool:
    """After this module (a row of the spec) the field is no longer an exact integer window.

    Adaptive pools are checked against their input size at the top level; nested in a block,
    only global ones (output size 1) are taken as exact.
    """
    if isinstance(module, nn.modules.pooling._AdaptiveAvgPoolNd
                  | nn.modules.pooling._AdaptiveMaxPoolNd):
        rank = len(in_shape) - 1
        outs = _tuple(module.output_size, rank)
        return not all(
            _equal_windows(n, m if m is not None else n)
            for n, m in zip(in_shape[1:], outs, strict=True)
        )
    adaptive = (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)
    for inner in module.modules():
        if isinstance(inner, nn.modules.conv._ConvTransposeNd | nn.Upsample):
            return True
        if isinstance(inner, adaptive) and set(_tuple(inner.output_size, 3)) != {1}:
            return True
    return False


def _equal_windows(size: int, out: int) -> bool:
    """Adaptive pooling's windows ``[floor(i n / m), ceil((i + 1) n / m))`` slide evenly."""
    if out == 1:
        return True
    starts = [(i * size) // out for i in range(out)]
    ends = [-(-((i + 1) * size) // out) for i in range(out)]
    widths = {e - s for s, e in zip(starts, ends, strict=True)}
    steps = {b - a for a, b in itertools.pairwise(starts)}
    return len(widths) == 1 and len(steps) == 1 and steps != {0}


def may_leave_holes(module: nn.Module, in_shape: tuple[int, ...]) -> bool:
    """Dilation, or a stride longer than the kernel, somewhere in this row can leave unseen
    pixels inside the window."""
    rank = len(in_shape) - 1
    windowed = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd,
                nn.modules.pooling._AvgPoolNd)
    for inner in module.modules():
        if not isinstance(inner, windowed):
            continue
        kernel = _tuple(inner.kernel_size, rank)
        stride = _tuple(inner.stride or inner.kernel_size, rank)
        dilation = _tuple(getattr(inner, "dilation", 1), rank)
        if any(d > 1 or s > k for k, s, d in zip(kernel, stride, dilation, strict=True)):
            return True
    return False


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
    Branching rows (``Parallel``, ``Residual``) stay one level: their field covers all paths."""
    row = rows[index]
    children = []
    for later in range(index + 1, len(rows)):
        if rows[later].depth <= row.depth:
            break
        if rows[later].depth == row.depth + 1:
            children.append(later)
    kids = [rows[k] for k in children]
    chained = bool(kids) and row.kind not in ("Parallel", "Residual") and (
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
