"""Receptive fields after a transposed convolution or an upsampling, measured with torch.

``tests/gradient_support.py`` confirms integer windows; after a transposed convolution or an
upsampling the field is not one: an output unit reads a varying number of input units (a
stride-2 transposed convolution with a 4-tap kernel reads 2 units with every output, but which
2 alternates), or one input unit is read by several outputs (nearest upsampling). netspec's
field there describes a sampling grid, and this harness pins each of its three numbers with the
gradient of output units of the positive linear network (``positive_linear``: constant positive
weights, so each unit's gradient is a positive weighting of the input pixels it reads):

- ``jump``: the gradient's centre of mass (CoM) of unit ``o + P`` is that of unit ``o`` moved by
  ``P * jump`` input pixels, where ``P`` (the period, stated by each test case) is the number of
  output units after which the pattern repeats (the stride of a transposed convolution, the
  numerator of an upsampling scale);
- ``start``: for transposed convolutions and the interpolating modes, the mean over any ``P``
  consecutive units of ``CoM(o) - o * jump`` (an interpolated unit's CoM is its sample point
  ``(o + 1/2) / scale - 1/2`` itself, and a transposed convolution's read units are centred on
  ``(o + p - (k_eff - 1) / 2) / s`` on average over a period); for the nearest modes, which copy
  one input unit, ``CoM(o) - o * jump`` at every ``o`` that is a multiple of ``P`` (unit 0 and
  the units that repeat its position in the pattern);
- ``size``: the widest span of non-zero gradient over the units measured. netspec's size is an
  upper bound after these layers (README): the test asserts the bound always, and equality
  where the layer's docstring makes it exact.

Units are measured along one axis at a time, the other axes at the middle of the output, and
only in the middle third of the axis, away from padding and from the clamping of interpolation
indices at the borders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch

import netspec
from netspec.core.shapes import AxisRF
from tests.gradient_support import positive_linear

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Unit:
    """What the gradient of one output unit shows along one axis."""

    index: int
    lo: int  # first input pixel with a non-zero gradient
    hi: int  # last one
    com: float  # centre of mass of the gradient, in input pixels

    @property
    def span(self) -> int:
        return self.hi - self.lo + 1


def measure(spec: netspec.Spec, axis: int) -> list[Unit]:
    """The units of the middle third of ``axis`` of the network's output, one gradient each."""
    model = positive_linear(netspec.build(spec, device="meta"))
    x = torch.ones(1, *spec.input, dtype=torch.float64, requires_grad=True)
    y = model(x)
    spatial = y.shape[2:]
    rank = len(spatial)
    others = tuple(a for a in range(rank) if a != axis)
    length = spatial[axis]
    units = []
    for o in range(length // 3, 2 * length // 3):
        index = [n // 2 for n in spatial]
        index[axis] = o
        (grad,) = torch.autograd.grad(y[(0, slice(None), *index)].sum(), x, retain_graph=True)
        g = grad[0].sum(dim=0)  # over input channels
        line = g.sum(dim=others) if others else g
        seen = g.ne(0).any(dim=others) if others else g.ne(0)
        where = seen.nonzero().flatten()
        if len(where) == 0:
            continue  # a dilated transposed convolution: some units read only the bias
        positions = torch.arange(line.shape[0], dtype=torch.float64)
        com = float((positions * line).sum() / line.sum())
        units.append(Unit(o, int(where[0]), int(where[-1]), com))
    return units


def close(a: float | Fraction, b: float | Fraction) -> bool:
    return math.isclose(float(a), float(b), abs_tol=TOLERANCE)


def check_field(
    rf: AxisRF, units: list[Unit], period: int, *, nearest: bool, exact: bool
) -> list[str]:
    """How netspec's ``rf`` disagrees with the measured ``units`` (see the module docstring)."""
    problems = []
    by_index = {unit.index: unit for unit in units}
    for unit in units:
        later = by_index.get(unit.index + period)
        if later is not None and not close(later.com - unit.com, period * rf.jump):
            problems.append(
                f"jump: the CoM moves {later.com - unit.com} pixels over units {unit.index} to "
                f"{later.index}, analysed {period} * {rf.jump}"
            )
            break
    starts = []
    if nearest:
        starts = [unit.com - unit.index * float(rf.jump) for unit in units
                  if unit.index % period == 0]
    else:
        for unit in units:
            run = [by_index.get(unit.index + step) for step in range(period)]
            if all(run):
                starts.append(sum(u.com - u.index * float(rf.jump) for u in run if u) / period)
    if not starts:
        problems.append("start: no whole period measured")
    for start in starts:
        if not close(start, rf.start):
            problems.append(f"start: measured {start}, analysed {rf.start}")
            break
    widest = max(unit.span for unit in units)
    if widest > rf.size:
        problems.append(f"size: a unit reads {widest} pixels, above the bound {rf.size}")
    if exact and widest != rf.size:
        problems.append(f"size: the widest unit reads {widest} pixels, analysed {rf.size}")
    return problems
