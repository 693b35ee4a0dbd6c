"""Adaptive pooling: ``AdaptiveAvgPool`` and ``AdaptiveMaxPool`` in 1, 2 and 3-d.

Each family is one rank-generic class; the leaves only name the kind and the rank. The output size
is given, the windows follow from it: window ``i`` of ``m`` over ``n`` values spans
``[floor(i*n/m), ceil((i+1)*n/m))``, as in torch's ATen.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, Strict, field_validator

from netspec.core.shapes import AxisRF, Shape, even_adaptive_window
from netspec.core.window import Window, axis_lines, axis_names, whole_field
from netspec.layers.base import RF, Layer, expect_rank
from netspec.layers.fields import PositiveInt, check_axis_count, spatial_layout
from netspec.layers.leaves import Leaf, leaves_on_demand
from netspec.layers.registry import register

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveMaxPool1d",
]

StrictInt = Annotated[int, Strict()]


class _AdaptivePoolNd(Layer):
    """What adaptive average and max pooling share: the output size, its shape and RF rules."""

    rank: ClassVar[int] = 2

    output_size: PositiveInt | tuple[PositiveInt | None, ...] = Field(
        description="Target output size: an int or one per axis, where null keeps that axis's "
        "input size."
    )

    @field_validator("output_size")
    @classmethod
    def _one_value_per_axis(cls, value: Any) -> Any:
        return check_axis_count(value, cls.rank)

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        expect_rank(self, in_shape, self.rank + 1, spatial_layout(self.rank))
        return {}

    def output_sizes(self, in_shape: Shape) -> tuple[int, ...]:
        """The output size per spatial axis, nulls replaced by the input's size."""
        sizes: tuple[int | None, ...] = (
            (self.output_size,) * self.rank
            if isinstance(self.output_size, int)
            else self.output_size
        )
        return tuple(n if m is None else m for n, m in zip(in_shape[1:], sizes, strict=True))

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        return (in_shape[0], *self.output_sizes(in_shape))

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        if len(rf) != self.rank:
            return rf
        return tuple(
            _adaptive_axis(axis, n, m)
            for axis, n, m in zip(rf, in_shape[1:], self.output_sizes(in_shape), strict=True)
        )

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``H_out = output_size = 1``."""
        return [
            f"{name}_out = output_size = {m}"
            for name, m in zip(axis_names(self.rank), self.output_sizes(in_shape), strict=True)
        ]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        """An evenly sliding window's ``RF = r + (w-1)*j``, else the whole axis."""
        if len(rf) != self.rank or not all(axis.positional for axis in rf):
            return []
        values = []
        for axis, n, m in zip(rf, in_shape[1:], self.output_sizes(in_shape), strict=True):
            window = _even_window(n, m)
            values.append(window.explain_field(axis) if window else whole_field(axis, n))
        return axis_lines("RF", values)


def _even_window(size: int, out: int) -> Window | None:
    """Adaptive windows of one width and step, as an ordinary window; None when uneven or 1."""
    even = even_adaptive_window(size, out)
    return Window(size, *even) if even else None


def _adaptive_axis(axis: AxisRF, size: int, out: int) -> AxisRF:
    """One axis through adaptive pooling of ``size`` inputs to ``out`` outputs."""
    if out == 1:
        return axis.whole(size)
    if not axis.positional:
        return axis
    even = even_adaptive_window(size, out)
    if even:  # evenly sliding: an ordinary window
        return axis.through_window(even[0], even[1], 0, 1)
    return axis.whole(size)  # uneven windows have no single jump: bound by the whole axis


class AdaptiveAvgPoolNd(_AdaptivePoolNd):
    """N-d adaptive average pooling, exactly ``torch.nn.AdaptiveAvgPoolNd``.

    Output unit ``i`` of ``m`` averages the inputs ``[floor(i n / m), ceil((i + 1) n / m))``.

    Shape:
        ``[C, *output_size]``; a null entry keeps that axis's input size ``n``.
    Receptive field:
        when all windows have one width ``w`` and step ``t`` (always when ``m`` divides ``n``,
        and e.g. 17 -> 2), exactly a window of ``k = w``, ``s = t``; uneven windows have no
        single jump, so each unit is bounded by the whole axis, as ``m = 1`` is.
    Example::

        - AdaptiveAvgPool2d: {output_size: 1}
    """


class AdaptiveMaxPoolNd(_AdaptivePoolNd):
    """N-d adaptive max pooling, exactly ``torch.nn.AdaptiveMaxPoolNd`` (no ``return_indices``).

    Output unit ``i`` of ``m`` takes the maximum of the inputs ``[floor(i n / m),
    ceil((i + 1) n / m))``.

    Shape:
        ``[C, *output_size]``; a null entry keeps that axis's input size ``n``.
    Receptive field:
        when all windows have one width ``w`` and step ``t`` (always when ``m`` divides ``n``,
        and e.g. 17 -> 2), exactly a window of ``k = w``, ``s = t``; uneven windows have no
        single jump, so each unit is bounded by the whole axis, as ``m = 1`` is.
    Example::

        - AdaptiveMaxPool2d: {output_size: [7, null]}
    """


_OUTPUT_SIZE_1D = "Target output length: an int (torch's 1-d adaptive pools take no null)."


@register
class AdaptiveAvgPool1d(AdaptiveAvgPoolNd):
    kind = "AdaptiveAvgPool1d"
    rank = 1

    output_size: PositiveInt | tuple[PositiveInt, ...] = Field(description=_OUTPUT_SIZE_1D)


@register
class AdaptiveMaxPool1d(AdaptiveMaxPoolNd):
    kind = "AdaptiveMaxPool1d"
    rank = 1

    output_size: PositiveInt | tuple[PositiveInt, ...] = Field(description=_OUTPUT_SIZE_1D)


__getattr__ = leaves_on_demand(__name__, {
    "AdaptiveAvgPool2d": Leaf(AdaptiveAvgPoolNd, rank=2),
    "AdaptiveAvgPool3d": Leaf(AdaptiveAvgPoolNd, rank=3),
    "AdaptiveMaxPool2d": Leaf(AdaptiveMaxPoolNd, rank=2),
    "AdaptiveMaxPool3d": Leaf(AdaptiveMaxPoolNd, rank=3),
})
