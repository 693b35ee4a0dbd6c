"""Window pooling: ``MaxPool`` and ``AvgPool`` in 1, 2 and 3-d (adaptive pools: ``pool_adaptive``).

Each family is one rank-generic class; the leaves only name the kind and the rank. The rules are
torch's own, found in ATen's pooling shape checks: padding at most half the kernel (the kernel,
not the dilated span), an output of at least one per axis, and for ``AvgPool3d`` alone an input
at least as large as the kernel on every axis.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, Strict, field_validator, model_validator

from netspec.core.errors import fail
from netspec.core.shapes import Shape
from netspec.core.window import Window
from netspec.layers.base import RF, Layer, expect_rank
from netspec.layers.fields import (
    Bool,
    PerAxisNonNegative,
    PerAxisPositive,
    SchemaBounds,
    check_axis_count,
    per_axis,
    spatial_layout,
)
from netspec.layers.leaves import Leaf, leaves_on_demand
from netspec.layers.registry import register

"""How one input sample is laid out for each number of spatial axes."""

# Not 0 (the validator below says so); the schema refuses 0 too.
NonZeroInt = Annotated[int, Strict(), SchemaBounds(excluded=0)]


class _WindowPoolNd(Layer):
    """What max and average pooling share: a window sliding with a stride over padded input."""

    rank: ClassVar[int] = 2
    window_fields: ClassVar[tuple[str, ...]] = ("kernel_size", "stride", "padding", "ceil_mode")

    kernel_size: PerAxisPositive = Field(description="Size of the window: an int or one per axis.")
    stride: PerAxisPositive | None = Field(
        default=None, description="Step of the window: an int or one per axis. Default: kernel_size"
    )
    padding: PerAxisNonNegative = Field(
        default=0,
        description="Implicit padding on both sides, at most half the kernel size. Default: 0",
    )
    ceil_mode: Bool = Field(
        default=False,
        description="Round the output size up instead of down; a last window that would start "
        "in the right padding is still dropped. Default: False",
    )

    @field_validator("kernel_size", "stride", "padding", "dilation", check_fields=False)
    @classmethod
    def _one_value_per_axis(cls, value: Any) -> Any:
        return check_axis_count(value, cls.rank)

    @model_validator(mode="after")
    def _padding_at_most_half_kernel(self) -> _WindowPoolNd:
        for pad, kernel in zip(self.paddings(), self.kernels(), strict=True):
            if pad > kernel // 2:
                raise ValueError(
                    f"padding must be at most half the kernel size on every axis (dilation does "
                    f"not count); received padding={self.padding}, kernel_size={self.kernel_size}"
                )
        return self

    def kernels(self) -> tuple[int, ...]:
        return per_axis(self.kernel_size, self.rank)

    def strides(self) -> tuple[int, ...]:
        """torch's default stride is the kernel size."""
        return per_axis(self.kernel_size if self.stride is None else self.stride, self.rank)

    def paddings(self) -> tuple[int, ...]:
        return per_axis(self.padding, self.rank)

    def dilations(self) -> tuple[int, ...]:
        """Spacing of window elements; only max pooling can dilate."""
        return (1,) * self.rank

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        expect_rank(self, in_shape, self.rank + 1, spatial_layout(self.rank))
        return {}

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        self._check_input(in_shape)
        sizes = [window.output for window in self.windows(in_shape)]
        if any(size < 1 for size in sizes):
            window = ", ".join(f"{key}={getattr(self, key)}" for key in self.window_fields)
            raise fail(
                f"{self.kind} output would be {[in_shape[0], *sizes]}: the input "
                f"{list(in_shape)} is too small for {window}",
                field="kernel_size",
            )
        return (in_shape[0], *sizes)

    def _check_input(self, in_shape: Shape) -> None:
        """A further check of the input sizes that some kinds make. Default: none."""

    def windows(self, in_shape: Shape) -> tuple[Window, ...]:
        return tuple(
            Window(n, k, s, d, p, p, self.ceil_mode)
            for n, k, s, p, d in zip(
                in_shape[1:],
                self.kernels(),
                self.strides(),
                self.paddings(),
                self.dilations(),
                strict=True,
            )
        )

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        if len(rf) != self.rank:
            return rf
        return tuple(
            axis.through_window(k, s, p, d)
            for axis, k, s, p, d in zip(
                rf, self.kernels(), self.strides(), self.paddings(), self.dilations(), strict=True
            )
        )


class MaxPoolNd(_WindowPoolNd):
    """N-d max pooling, exactly ``torch.nn.MaxPoolNd`` (without ``return_indices``, which an
    ``nn.Sequential`` cannot pass on).

    Shape:
        ``out = floor((n + 2p - d(k-1) - 1) / s) + 1`` per spatial axis (``ceil`` with
        ``ceil_mode``, dropping a last window that starts at or past ``n + p``); ``p <= k // 2``.
    Receptive field:
        ``r_out = r_in + d(k-1) j_in``, ``j_out = j_in s``,
        ``start_out = start_in + (d(k-1)/2 - p) j_in``.
    Example::

        - MaxPool2d: {kernel_size: 3, stride: 2, ceil_mode: true}
    """

    window_fields: ClassVar[tuple[str, ...]] = (
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "ceil_mode",
    )

    dilation: PerAxisPositive = Field(
        default=1, description="Spacing between window elements. Default: 1"
    )

    def dilations(self) -> tuple[int, ...]:
        return per_axis(self.dilation, self.rank)


class AvgPoolNd(_WindowPoolNd):
    """N-d average pooling, exactly ``torch.nn.AvgPoolNd``.

    Shape:
        ``out = floor((n + 2p - k) / s) + 1`` per spatial axis (``ceil`` with ``ceil_mode``,
        dropping a last window that starts at or past ``n + p``); ``p <= k // 2``.
    Receptive field:
        ``r_out = r_in + (k-1) j_in``, ``j_out = j_in s``,
        ``start_out = start_in + ((k-1)/2 - p) j_in``.
    Example::

        - AvgPool2d: {kernel_size: 2, stride: 2}
    """

    count_include_pad: Bool = Field(
        default=True, description="Count the zero padding in the averaging divisor. Default: True"
    )


class _AvgPoolWithDivisorNd(AvgPoolNd):
    """``AvgPool2d`` and ``AvgPool3d`` can divide by a fixed number (``AvgPool1d`` cannot)."""

    divisor_override: NonZeroInt | None = Field(
        default=None,
        description="Divide every window sum by this nonzero number instead of the window "
        "size. Default: None",
    )

    @field_validator("divisor_override")
    @classmethod
    def _divisor_nonzero(cls, value: int | None) -> int | None:
        if value == 0:
            raise ValueError("divisor must be not zero; received divisor_override=0")
        return value


@register
class AvgPool3d(_AvgPoolWithDivisorNd):
    kind = "AvgPool3d"
    rank = 3

    def _check_input(self, in_shape: Shape) -> None:
        """torch's ``avg_pool3d`` (only the 3-d one) needs ``n >= k`` per axis, padding aside."""
        if any(n < k for n, k in zip(in_shape[1:], self.kernels(), strict=True)):
            raise fail(
                f"AvgPool3d needs an input at least as large as the kernel on every axis, "
                f"padding aside; received input {list(in_shape)}, "
                f"kernel_size={self.kernel_size}",
                field="kernel_size",
            )


__getattr__ = leaves_on_demand(__name__, {
    "MaxPool1d": Leaf(MaxPoolNd, rank=1),
    "MaxPool2d": Leaf(MaxPoolNd, rank=2),
    "MaxPool3d": Leaf(MaxPoolNd, rank=3),
    "AvgPool1d": Leaf(AvgPoolNd, rank=1),
    "AvgPool2d": Leaf(_AvgPoolWithDivisorNd, rank=2),
})
