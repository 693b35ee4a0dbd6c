"""Receptive fields where paths meet: added, multiplied or concatenated (``Residual``,
``Parallel``, ``Gate``). No torch here.

A unit of the merged map reads what that unit reads on every path, so its field is the union
of the paths' fields for that unit. Per axis:

- the paths must agree on the layout (which sample dim each column follows), on the jump and
  on the centre of the first unit; otherwise the merged units would mix windows at different
  places: an error naming the path;
- an axis that a path sees whole (a global pool, or a map of one unit broadcast over the axis)
  is seen whole after the merge;
- the wider field is kept, with its tiling (Swin's windows, ``AxisRF.period``): a residual's
  body grows from its shortcut's field, and each of its units' fields holds the shortcut's.
  Beside an unrelated narrower path tiled otherwise (windows of 4 next to windows of 3) some
  units see a little more than the wider field: the tiling does not record where each hull
  lies, so that union is not computed;
- two fields of one size tiled differently (two window attentions shifted differently, side
  by side) hold neither the other: each unit sees the union of its two tiles' hulls. With each
  hull centred on its tile (exact for tiles of untiled fields) the unions are taken unit by
  unit over one joint period of the tilings (the least common multiple of their periods); the
  merged field is the largest, no longer tiled (the layers after treat it as a window centred
  on each unit: an estimate, as after Swin's first stage).
"""

from __future__ import annotations

import math
from fractions import Fraction

from netspec.core.errors import fail
from netspec.core.shapes import CHANNEL_AXIS, AxisRF, Shape, bounded, column_start
from netspec.layers.base import RF

__all__ = ["broadcast_field", "joined_field", "merge_fields"]

JOINT_PERIOD_LIMIT = 4096
"""Most units compared one by one; beyond (two large coprime windows) the merged size is the
bound ``size_a + size_b - 1`` (both windows hold the unit's own centre)."""


def merge_fields(fields: list[tuple[str, RF]], kind: str) -> RF:
    """The field after ``fields`` (``(path name, field)``, in order) meet (module notes)."""
    (first_name, first), *others = fields
    merged = list(first)
    for name, rf in others:
        if _channel_dims(rf) != _channel_dims(first):
            raise fail(
                f"{kind} merges paths in different layouts: {first_name} has "
                f"{_layout_words(first)}, {name} has {_layout_words(rf)}; their units would "
                "be combined across different axes; permute the paths to the same layout",
            )
        for axis, (a, b) in enumerate(zip(merged, rf, strict=True)):
            if a.undefined:  # token ids: every path from them carries the reason
                merged[axis] = a
            elif not (a.known and b.known):  # a plugin kind on one path did not say
                merged[axis] = AxisRF.unknown()
            elif not (a.positional and b.positional):
                merged[axis] = _seen_whole(a, b)
            elif a.jump != b.jump or a.start != b.start:
                raise fail(
                    f"{kind} merges misaligned receptive fields on spatial axis {axis}: "
                    f"{first_name} has jump {a.jump} and centre {a.start}, {name} has jump "
                    f"{b.jump} and centre {b.start}; match their strides and paddings",
                )
            else:
                merged[axis] = _union(a, b)
    return tuple(merged)


def _channel_dims(rf: RF) -> tuple[int, tuple[int, ...]]:
    """The layout of a field: its column count and where the channel marker sits."""
    return len(rf), tuple(i for i, axis in enumerate(rf) if axis == CHANNEL_AXIS)


def _layout_words(rf: RF) -> str:
    """``its channels at dim 2 (3 columns)``."""
    count, marks = _channel_dims(rf)
    return f"its channels at dim {marks[0] if marks else 0} ({count} columns)"


def _seen_whole(a: AxisRF, b: AxisRF) -> AxisRF:
    """An axis that one path sees whole: seen whole after the merge, whatever the other path
    sees. The units keep the spacing of a positional path (a residual's stride is read from
    it: multiplying by a gate does not move the units); the centre is the whole window's."""
    whole, other = (a, b) if not a.positional else (b, a)
    jump = other.jump if other.positional else whole.jump
    return AxisRF(max(a.size, b.size), jump, whole.start, False)


def _window(axis: AxisRF, unit: int) -> tuple[Fraction, Fraction]:
    """First and last pixel centre of ``unit``'s field: a window of ``size`` centred on the
    unit, or on its tile when the axis is tiled."""
    if axis.period:
        tile = axis.phase + (unit - axis.phase) // axis.period * axis.period
        centre = axis.start + (tile + Fraction(axis.period - 1, 2)) * axis.jump
    else:
        centre = axis.start + unit * axis.jump
    half = (axis.size - 1) / 2
    return centre - half, centre + half


def _union(a: AxisRF, b: AxisRF) -> AxisRF:
    """Two aligned positional fields: the wider, with its tiling; two of one size tiled
    differently, their largest union, untiled (module notes)."""
    if a.size != b.size or (a.period, a.phase) == (b.period, b.phase):
        wider = a if a.size > b.size else b
        return AxisRF(wider.size, a.jump, a.start, period=wider.period, phase=wider.phase)
    joint = math.lcm(a.period or 1, b.period or 1)
    if joint > JOINT_PERIOD_LIMIT:
        return AxisRF(bounded(a.size + b.size - 1), a.jump, a.start)
    widest = max(_spanned(_window(a, unit), _window(b, unit)) for unit in range(joint))
    return AxisRF(bounded(widest), a.jump, a.start)


def _spanned(one: tuple[Fraction, Fraction], other: tuple[Fraction, Fraction]) -> Fraction:
    """Pixels from the first of two windows' first pixel centres to the last one's last."""
    return max(one[1], other[1]) - min(one[0], other[0]) + 1


def broadcast_field(rf: RF, shape: Shape, out_shape: Shape) -> RF:
    """The field of a path whose output ``shape`` is broadcast to ``out_shape``: along a
    spatial axis stretched from 1 to more positions, every output unit reads the path's one
    unit, so the axis is no longer positional (it is seen whole, with the path's field). In
    ``[C, *spatial]`` and in channels-last layouts alike."""
    first = column_start(rf, shape)
    if first is None or len(shape) != len(out_shape):
        return rf
    return tuple(
        AxisRF(axis.size, axis.jump, axis.start, False)
        if axis.positional and shape[dim] == 1 and out_shape[dim] != 1 else axis
        for dim, axis in enumerate(rf, start=first)
    )


def joined_field(rf: RF, shape: Shape) -> RF:
    """The field of a path concatenated with others along dim 0 of the sample: the channels
    in ``[C, *spatial]`` (nothing changes), but a located axis in a channels-last layout (the
    rows of ``[H, W, C]``), whose units then come from one path after another, no longer
    evenly spaced: that axis's field is unknown."""
    if column_start(rf, shape) == 0 and rf[0].positional:
        return (AxisRF.unknown(), *rf[1:])
    return rf
