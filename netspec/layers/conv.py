"""Convolutions: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``, one rank-generic class each."""

from __future__ import annotations

from math import prod
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from netspec.core.errors import fail
from netspec.core.shapes import Shape, conv_transpose_output_size, same_padding
from netspec.core.window import Window, axis_lines, axis_names, num
from netspec.layers.base import RF, Layer, expect_rank
from netspec.layers.fields import (
    Bool,
    PerAxisNonNegative,
    PerAxisPositive,
    PositiveInt,
    check_axis_count,
    per_axis,
    spatial_layout,
)
from netspec.layers.leaves import Leaf, leaves_on_demand


class _ConvBase(Layer):
    """What convolutions and transposed convolutions share: channels, kernel, groups, bias."""

    rank: ClassVar[int] = 2
    inferred: ClassVar[tuple[str, ...]] = ("in_channels",)

    in_channels: PositiveInt | None = Field(
        default=None, description="Input channels. Inferred from the incoming shape."
    )
    out_channels: PositiveInt = Field(description="Number of filters (output channels).")
    kernel_size: PerAxisPositive = Field(description="Kernel size: an int or one per axis.")
    stride: PerAxisPositive = Field(default=1, description="Step of the window. Default: 1")
    dilation: PerAxisPositive = Field(
        default=1, description="Spacing between kernel elements. Default: 1"
    )
    groups: PositiveInt = Field(
        default=1, description="Blocked connections; divides both channel counts. Default: 1"
    )
    bias: Bool = Field(default=True, description="Learnable bias per output channel. Default: True")

    @field_validator(
        "kernel_size", "stride", "dilation", "padding", "output_padding", check_fields=False
    )
    @classmethod
    def _one_value_per_axis(cls, value: Any) -> Any:
        return check_axis_count(value, cls.rank)

    @model_validator(mode="after")
    def _groups_divide_out_channels(self) -> _ConvBase:
        if self.out_channels % self.groups:
            raise ValueError(
                f"groups must divide out_channels; received out_channels={self.out_channels}, "
                f"groups={self.groups}"
            )
        return self

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        expect_rank(self, in_shape, self.rank + 1, spatial_layout(self.rank))
        channels = in_shape[0]
        if channels % self.groups:
            raise fail(
                f"groups must divide in_channels; received in_channels={channels} (from the "
                f"input shape {list(in_shape)}), groups={self.groups}",
                field="groups",
            )
        return self.check_asserted({"in_channels": channels}, in_shape)

    def parameter_count(self, in_shape: Shape) -> int:
        """``out * (in / groups) * prod(kernel) + out`` (bias)."""
        kernel = prod(per_axis(self.kernel_size, self.rank))
        weights = self.out_channels * (in_shape[0] // self.groups) * kernel
        return weights + (self.out_channels if self.bias else 0)

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        """``out_elements * (C_in / groups) * prod(kernel)``: each output element is one dot
        product of a kernel with its window; the bias is an addition, not counted."""
        kernel = prod(per_axis(self.kernel_size, self.rank))
        return prod(out_shape) * (in_shape[0] // self.groups) * kernel

    def channel_bias(self, in_shape: Shape) -> int:
        return self.out_channels if self.bias else 0

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``params = 6*(1*5*5) + 6 = 156`` (``in/groups`` when grouped), and the MACs:
        ``MACs = (6*28*28)*(1*5*5) = 117600``, output elements times one window's products."""
        kernel = "*".join(map(str, per_axis(self.kernel_size, self.rank)))
        inputs = f"{in_shape[0]}/{self.groups}" if self.groups > 1 else str(in_shape[0])
        bias = f" + {self.out_channels}" if self.bias else ""
        params = self.parameter_count(in_shape)
        return [
            f"params = {self.out_channels}*({inputs}*{kernel}){bias} = {params}",
            f"MACs = {self._mac_terms(in_shape, out_shape, inputs, kernel)} = "
            f"{self.macs(in_shape, out_shape):,} (bias not counted)",
        ]

    def _mac_terms(self, in_shape: Shape, out_shape: Shape, inputs: str, kernel: str) -> str:
        """``(out elements)*(in/groups*kernel)``."""
        elements = "*".join(map(str, out_shape))
        return f"({elements})*({inputs}*{kernel})"

    def _output(self, in_shape: Shape, sizes: list[int]) -> Shape:
        if any(size < 1 for size in sizes):
            raise fail(
                f"{self.kind} output would be {[self.out_channels, *sizes]}: the input "
                f"{list(in_shape)} is too small for kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={getattr(self, 'padding', 0)}",
                field="kernel_size",
            )
        return (self.out_channels, *sizes)


class ConvNd(_ConvBase):
    """N-d convolution, exactly ``torch.nn.ConvNd``.

    Shape:
        ``out = floor((n + 2p - d(k-1) - 1) / s) + 1`` per spatial axis; ``padding: same``
        keeps ``n`` (total padding ``d(k-1)``, the odd pixel on the right), ``valid`` is 0.
    Receptive field:
        ``r_out = r_in + d(k-1) j_in``, ``j_out = j_in s``.
    Example::

        - Conv2d: {out_channels: 64, kernel_size: 3, padding: 1}
    """

    padding: PerAxisNonNegative | Literal["same", "valid"] = Field(
        default=0, description="Zero padding per side: an int, one per axis, 'same' or 'valid'."
    )
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = Field(
        default="zeros", description="How the border is padded. Default: 'zeros'"
    )

    @model_validator(mode="after")
    def _same_needs_stride_one(self) -> ConvNd:
        if self.padding == "same" and any(s != 1 for s in per_axis(self.stride, self.rank)):
            raise ValueError(
                f"padding='same' is not supported for strided convolutions; received "
                f"stride={self.stride} (use an explicit padding instead)"
            )
        return self

    def pads(self) -> list[tuple[int, int]]:
        """(left, right) padding per spatial axis."""
        kernels = per_axis(self.kernel_size, self.rank)
        dilations = per_axis(self.dilation, self.rank)
        if self.padding == "same":
            return [same_padding(k, d) for k, d in zip(kernels, dilations, strict=True)]
        if self.padding == "valid":
            return [(0, 0)] * self.rank
        return [(p, p) for p in per_axis(self.padding, self.rank)]

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        self._check_padding_mode(in_shape)
        return self._output(in_shape, [window.output for window in self.windows(in_shape)])

    def windows(self, in_shape: Shape) -> tuple[Window, ...]:
        return tuple(
            Window(n, k, s, d, left, right)
            for n, k, s, d, (left, right) in zip(
                in_shape[1:],
                per_axis(self.kernel_size, self.rank),
                per_axis(self.stride, self.rank),
                per_axis(self.dilation, self.rank),
                self.pads(),
                strict=True,
            )
        )

    def _check_padding_mode(self, in_shape: Shape) -> None:
        """torch's limits for non-zero padding modes: reflect < n, circular <= n."""
        if self.padding_mode not in ("reflect", "circular"):
            return
        for n, (left, right) in zip(in_shape[1:], self.pads(), strict=True):
            pad = max(left, right)
            too_big = pad >= n if self.padding_mode == "reflect" else pad > n
            if too_big:
                limit = "less than" if self.padding_mode == "reflect" else "at most"
                raise fail(
                    f"padding_mode={self.padding_mode!r} needs padding {limit} the input size; "
                    f"received padding={pad} for a spatial size of {n} (input {list(in_shape)})",
                    field="padding",
                )

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        if len(rf) != self.rank:
            return rf
        return tuple(
            axis.through_window(k, s, left, d)
            for axis, k, s, d, (left, _) in zip(
                rf,
                per_axis(self.kernel_size, self.rank),
                per_axis(self.stride, self.rank),
                per_axis(self.dilation, self.rank),
                self.pads(),
                strict=True,
            )
        )


class ConvTransposeNd(_ConvBase):
    """N-d transposed convolution, exactly ``torch.nn.ConvTransposeNd``.

    Shape:
        ``out = (n - 1) s - 2p + d(k-1) + output_padding + 1`` per spatial axis.
    Receptive field:
        ``j_out = j_in / s``; ``r_out = r_in + d(k-1) j_in / s`` (exact when ``s`` divides
        ``d(k-1)``, else an upper bound).
    Example::

        - ConvTranspose2d: {out_channels: 32, kernel_size: 2, stride: 2}
    """

    padding: PerAxisNonNegative = Field(
        default=0, description="Implicit zero padding removed from each side. Default: 0"
    )
    output_padding: PerAxisNonNegative = Field(
        default=0, description="Extra size added to one side of the output. Default: 0"
    )
    padding_mode: Literal["zeros"] = Field(
        default="zeros", description="Only 'zeros' is supported by torch for transposed convs."
    )

    @model_validator(mode="after")
    def _output_padding_below_stride_or_dilation(self) -> ConvTransposeNd:
        for op, s, d in zip(
            per_axis(self.output_padding, self.rank),
            per_axis(self.stride, self.rank),
            per_axis(self.dilation, self.rank),
            strict=True,
        ):
            if op >= max(s, d):
                raise ValueError(
                    f"output_padding must be smaller than either stride or dilation; received "
                    f"output_padding={self.output_padding}, stride={self.stride}, "
                    f"dilation={self.dilation}"
                )
        return self

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        sizes = [
            conv_transpose_output_size(n, k, s, p, d, op)
            for n, (k, s, p, d, op) in zip(in_shape[1:], self._axes(), strict=True)
        ]
        return self._output(in_shape, sizes)

    def _axes(self) -> zip[tuple[int, int, int, int, int]]:
        """(kernel, stride, padding, dilation, output_padding) per spatial axis."""
        return zip(
            per_axis(self.kernel_size, self.rank),
            per_axis(self.stride, self.rank),
            per_axis(self.padding, self.rank),
            per_axis(self.dilation, self.rank),
            per_axis(self.output_padding, self.rank),
            strict=True,
        )

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        """``in_elements * (C_out / groups) * prod(kernel)``: every input element is scattered
        through a kernel into ``C_out / groups`` channels (``FlopCounterMode``'s count)."""
        kernel = prod(per_axis(self.kernel_size, self.rank))
        return prod(in_shape) * (self.out_channels // self.groups) * kernel

    def _mac_terms(self, in_shape: Shape, out_shape: Shape, inputs: str, kernel: str) -> str:
        """``(in elements)*(out/groups*kernel)``."""
        elements = "*".join(map(str, in_shape))
        outputs = f"{self.out_channels}/{self.groups}" if self.groups > 1 else str(
            self.out_channels)
        return f"({elements})*({outputs}*{kernel})"

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``H_out = (14-1)*2 - 2*0 + 1*(2-1) + 0 + 1 = 28``."""
        return [
            f"{name}_out = ({n}-1)*{s} - 2*{p} + {d}*({k}-1) + {op} + 1 = {out}"
            for name, n, out, (k, s, p, d, op) in zip(
                axis_names(self.rank), in_shape[1:], out_shape[1:], self._axes(), strict=True
            )
        ]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        """``RF = 17 + (2-1)*2/2 = 18, jump = 2/2 = 1``: the jump divides by the stride."""
        if len(rf) != self.rank or not all(axis.positional for axis in rf):
            return []
        values = []
        for axis, (k, s, p, d, _) in zip(rf, self._axes(), strict=True):
            after = axis.through_transposed(k, s, p, d)
            taps = f"({k}-1)" if d == 1 else f"{d}*({k}-1)"
            values.append(
                f"{num(axis.size)} + {taps}*{num(axis.jump)}/{s} = {num(after.size)}, "
                f"jump = {num(axis.jump)}/{s} = {num(after.jump)}"
            )
        return axis_lines("RF", values)

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        if len(rf) != self.rank:
            return rf
        return tuple(
            axis.through_transposed(k, s, p, d)
            for axis, k, s, p, d in zip(
                rf,
                per_axis(self.kernel_size, self.rank),
                per_axis(self.stride, self.rank),
                per_axis(self.padding, self.rank),
                per_axis(self.dilation, self.rank),
                strict=True,
            )
        )


__getattr__ = leaves_on_demand(__name__, {
    "Conv1d": Leaf(ConvNd, rank=1),
    "Conv2d": Leaf(ConvNd, rank=2),
    "Conv3d": Leaf(ConvNd, rank=3),
    "ConvTranspose1d": Leaf(ConvTransposeNd, rank=1),
    "ConvTranspose2d": Leaf(ConvTransposeNd, rank=2),
    "ConvTranspose3d": Leaf(ConvTransposeNd, rank=3),
})
