"""``Upsample``: resize by an output size or a scale factor, as ``F.interpolate`` does.

One kind serves 1, 2 and 3 spatial axes; the mode decides which it accepts, as in torch.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, Strict, model_validator

from netspec.core.errors import fail
from netspec.core.shapes import Shape, upsample_output_size
from netspec.core.window import axis_names
from netspec.layers.base import RF, Layer
from netspec.layers.fields import (
    MAX_INT,
    Bool,
    PositiveInt,
    SchemaBounds,
    per_axis,
    spatial_layout,
)
from netspec.layers.registry import register

__all__ = ["Upsample"]


def _at_most_max_int(value: float) -> float:
    """Bounded so that ``n * scale`` stays a finite double (1e308 would overflow to inf)."""
    if value > MAX_INT:
        raise ValueError(f"Input should be at most 2^48 = {MAX_INT:,}; received {value:g}")
    return value


_UP_TO_MAX_INT = SchemaBounds(maximum=MAX_INT)
PositiveFloat = Annotated[
    float, Strict(), Field(gt=0, allow_inf_nan=False), AfterValidator(_at_most_max_int),
    _UP_TO_MAX_INT,
]
# A single scale_factor may be 0: torch's Upsample then reads it as not given.
NonNegativeFloat = Annotated[
    float, Strict(), Field(ge=0, allow_inf_nan=False), AfterValidator(_at_most_max_int),
    _UP_TO_MAX_INT,
]
Mode = Literal["nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact"]

# Spatial axes each mode accepts (torch: "Got 4D input, but linear mode needs 3D input").
_RANKS: dict[str, tuple[int, ...]] = {
    "nearest": (1, 2, 3),
    "nearest-exact": (1, 2, 3),
    "linear": (1,),
    "bilinear": (2,),
    "bicubic": (2,),
    "trilinear": (3,),
}
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
# Input pixels one output pixel reads along an axis.
_TAPS = {"nearest": 1, "nearest-exact": 1, "linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}
# Scale factors become fractions with at most this denominator (2.5 -> 5/2, 1/3 -> 1/3),
# unless that would round a tiny scale to 0.
_MAX_DENOMINATOR = 10**6


@register
class Upsample(Layer):
    """Upsampling, exactly ``torch.nn.Upsample`` (``F.interpolate``); give ``size`` or
    ``scale_factor``.

    ``nearest`` and ``nearest-exact`` take ``[C, L]``, ``[C, H, W]`` or ``[C, D, H, W]``;
    ``linear`` only ``[C, L]``, ``bilinear`` and ``bicubic`` only ``[C, H, W]``, ``trilinear``
    only ``[C, D, H, W]``. ``align_corners`` may only be set for the last four modes.

    Shape:
        ``out = size`` per spatial axis, or ``out = floor(n * scale_factor)`` computed in doubles;
        every ``out >= 1``.
    Receptive field:
        ``r_out = r_in + (taps - 1) j_in`` with ``taps`` = 1 (nearest, nearest-exact),
        2 (linear, bilinear, trilinear) or 4 (bicubic); ``j_out = j_in / scale`` where ``scale``
        is ``scale_factor`` as given, else ``out / n`` (``(out - 1) / (n - 1)`` with
        ``align_corners``); with half-pixel centres (interpolating modes without
        ``align_corners``) ``start_out = start_in + (1 / (2 scale) - 1/2) j_in``; ``nearest-exact``
        copies input ``floor((o + 1/2) / scale)`` into output ``o``, so
        ``start_out = start_in + floor(1 / (2 scale)) j_in``.
    Example::

        - Upsample: {scale_factor: 2, mode: bilinear, align_corners: false}
    """

    kind = "Upsample"

    size: PositiveInt | tuple[PositiveInt, ...] | None = Field(
        default=None,
        description="Output spatial size: an int or one per axis; give this or scale_factor. "
        "Default: None",
    )
    scale_factor: NonNegativeFloat | tuple[PositiveFloat, ...] | None = Field(
        default=None,
        description="Multiplier of the spatial size: a number or one per axis; give this or "
        "size (a single 0 counts as not given, as in torch). Default: None",
    )
    mode: Mode = Field(
        default="nearest",
        description="'nearest', 'linear', 'bilinear', 'bicubic', 'trilinear' or "
        "'nearest-exact'. Default: 'nearest'",
    )
    align_corners: Bool | None = Field(
        default=None,
        description="Align the corner pixels of input and output (interpolating modes only); "
        "null means False. Default: None",
    )
    recompute_scale_factor: Bool | None = Field(
        default=None,
        description="Interpolate with the scale out / n rather than the given scale_factor; "
        "not with size. Default: None",
    )

    @model_validator(mode="after")
    def _torch_argument_rules(self) -> Upsample:
        if (self.size is not None) == self.has_scale_factor:
            zero = " (a scale_factor of 0 counts as none)" if self.scale_factor == 0 else ""
            raise ValueError(
                f"Upsample needs exactly one of size and scale_factor{zero}; received "
                f"size={self.size}, scale_factor={self.scale_factor}"
            )
        if self.align_corners is not None and self.mode not in _INTERPOLATING:
            raise ValueError(
                f"align_corners can only be set with the interpolating modes "
                f"{', '.join(_INTERPOLATING)}; received mode={self.mode!r}, "
                f"align_corners={self.align_corners}"
            )
        if self.recompute_scale_factor and self.size is not None:
            raise ValueError(
                f"recompute_scale_factor is not meaningful with an explicit size; received "
                f"size={self.size}, recompute_scale_factor=True"
            )
        return self

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        """Nothing to infer; checks that the mode fits the input and per-axis lengths."""
        spatial = len(in_shape) - 1
        if spatial not in _RANKS[self.mode]:
            layouts = " or ".join(spatial_layout(rank) for rank in _RANKS[self.mode])
            raise fail(
                f"Upsample with mode={self.mode!r} expects one sample shaped {layouts}; "
                f"received {list(in_shape)}",
                field="mode",
            )
        for key in ("size", "scale_factor"):
            value = getattr(self, key)
            if isinstance(value, tuple) and len(value) != spatial:
                raise fail(
                    f"{key} needs 1 or {spatial} values (one per spatial axis of the input "
                    f"{list(in_shape)}); received {list(value)}",
                    field=key,
                )
        return {}

    @property
    def has_scale_factor(self) -> bool:
        """torch's ``Upsample`` keeps ``scale_factor`` only when truthy: a single 0 is none."""
        return self.scale_factor is not None and self.scale_factor != 0

    def scale_factors(self, spatial: int) -> tuple[float, ...]:
        """``scale_factor`` per spatial axis (empty when ``size`` is given)."""
        if self.scale_factor is None or not self.has_scale_factor:
            return ()
        if isinstance(self.scale_factor, tuple):
            return self.scale_factor
        return (self.scale_factor,) * spatial

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        spatial = len(in_shape) - 1
        if self.size is not None:
            sizes = list(per_axis(self.size, spatial))
        else:
            scales = self.scale_factors(spatial)
            sizes = [upsample_output_size(n, s) for n, s in zip(in_shape[1:], scales, strict=True)]
        if any(out < 1 for out in sizes):
            raise fail(
                f"Upsample output would be {[in_shape[0], *sizes]}: input and output sizes "
                f"should be greater than 0; received input {list(in_shape)}, "
                f"scale_factor={self.scale_factor}",
                field="scale_factor",
            )
        return (in_shape[0], *sizes)

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``H_out = floor(14*2.0) = 28``, or ``H_out = size = 28``."""
        names = axis_names(len(in_shape) - 1)
        scales = self.scale_factors(len(in_shape) - 1)
        if not scales:
            sizes = zip(names, out_shape[1:], strict=True)
            return [f"{name}_out = size = {out}" for name, out in sizes]
        return [
            f"{name}_out = floor({n}*{scale}) = {out}"
            for name, n, scale, out in zip(names, in_shape[1:], scales, out_shape[1:], strict=True)
        ]

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        spatial = len(in_shape) - 1
        if len(rf) != spatial:
            return rf
        out_shape = self.output_shape(in_shape)
        interpolating = self.mode in _INTERPOLATING
        corners = interpolating and bool(self.align_corners)
        given = self.scale_factors(spatial) if not self.recompute_scale_factor else ()
        result = []
        for index, (axis, n, out) in enumerate(zip(rf, in_shape[1:], out_shape[1:], strict=True)):
            if corners and n > 1 and out > 1:
                scale = Fraction(out - 1, n - 1)
            elif given and not corners:
                exact = Fraction(given[index])
                scale = exact.limit_denominator(_MAX_DENOMINATOR) or exact
            else:
                scale = Fraction(out, n)
            align_centres = interpolating and not corners
            # nearest-exact: output o copies input floor((o + 1/2) / scale), unit 0 not always 0
            first = math.floor(1 / (2 * scale)) if self.mode == "nearest-exact" else 0
            result.append(axis.through_upsample(scale, _TAPS[self.mode], align_centres, first))
        return tuple(result)
