"""Normalisation with running statistics: ``BatchNorm`` and ``InstanceNorm`` (1, 2 and 3-d), and the
per-channel affine base they share with ``GroupNorm`` (``netspec.layers.norm``).

The channel count is inferred from the incoming shape (``num_features``, ``num_channels``).
Parameters and buffers are torch's: ``weight`` and ``bias`` of C elements when affine (no
``bias`` with ``bias: false``); ``running_mean``, ``running_var`` (C each) and the scalar
``num_batches_tracked`` when running statistics are tracked.

Receptive field: every kind here leaves it unchanged. Statistics that a normalisation computes
over an axis (a mean, a variance, a sum over neighbouring channels) are not counted, the usual
convention of receptive-field analyses; only the values a unit is computed from are.

netspec's analysis is per sample and the built model sees batches ``[N, *sample]``. Where torch
would read such a batch as one unbatched input (``InstanceNorm1d`` on ``[C]`` samples), netspec
accepts only what then runs for every batch size (see ``InstanceNorm1d``).
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from netspec.core.errors import fail
from netspec.core.shapes import Shape
from netspec.layers.base import Layer
from netspec.layers.fields import LAYOUTS, Bool, Float, PositiveFloat, PositiveInt
from netspec.layers.leaves import Leaf, leaves_on_demand
from netspec.layers.registry import register

__all__ = [
    "BatchNorm1d",
]


def expect_dims(layer: Layer, in_shape: Shape, allowed: tuple[int, ...], why: str = "") -> None:
    """Reject a sample whose number of dims is not one of ``allowed``."""
    if len(in_shape) not in allowed:
        layouts = " or ".join(LAYOUTS[dims] for dims in allowed)
        counts = " or ".join(str(dims) for dims in allowed)
        raise fail(
            f"{layer.kind} expects one sample shaped {layouts} ({counts} dims); "
            f"received {list(in_shape)}{why}"
        )


BIAS_DESCRIPTION = "Learn the per-channel bias as well as the weight (when affine). Default: True"


def _affine_count(channels: int, affine: bool, bias: bool) -> int:
    """Per-channel weight, and bias unless ``bias`` is False; nothing unless ``affine``."""
    return channels * (1 + bias) if affine else 0


def affine_lines(elements: str, count: int, bias: bool) -> list[str]:
    """``params = 2*64 = 128`` (weight and bias). A norm multiplies no matrices: 0 MACs."""
    if not count:
        return []
    factor = "2*" if bias else ""
    return [f"params = {factor}{elements} = {count}"]


def _without_default_bias(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``bias`` is recent in torch's batch, instance and group norms (pytorch#176573): pass it
    only when it is False, so that older torch versions still build the default."""
    if kwargs.get("bias") is True:
        del kwargs["bias"]
    return kwargs


class ChannelAffine(Layer):
    """Normalisations with a per-channel ``weight`` and ``bias``: the shape is unchanged, the
    parameters are ``2 C`` when ``affine`` (``C`` with ``bias: false``), and torch is given
    ``bias`` only when it differs from its default."""

    is_normalization = True

    if TYPE_CHECKING:  # declared by each kind, in torch's argument order
        affine: bool
        bias: bool

    def output_shape(self, in_shape: Shape) -> Shape:
        self.infer(in_shape)
        return in_shape

    def parameter_count(self, in_shape: Shape) -> int:
        """``2 C`` (weight and bias) when ``affine``; ``C`` without ``bias``."""
        return _affine_count(in_shape[0], self.affine, self.bias)

    def torch_kwargs(self, in_shape: Shape) -> dict[str, Any]:
        return _without_default_bias(super().torch_kwargs(in_shape))

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``params = 2*64 = 128``."""
        return affine_lines(str(in_shape[0]), self.parameter_count(in_shape), self.bias)


class _NormNd(ChannelAffine):
    """What batch and instance normalisation share: per-channel affine and running statistics.

    ``weight`` and ``bias`` have C elements each when ``affine``; the buffers are
    ``running_mean`` and ``running_var`` (C each) and ``num_batches_tracked`` (1) when
    ``track_running_stats``.
    """

    rank: ClassVar[int] = 2
    inferred: ClassVar[tuple[str, ...]] = ("num_features",)

    num_features: PositiveInt | None = Field(
        default=None, description="Channels C. Inferred from the incoming shape."
    )
    eps: Float = Field(default=1e-5, description="Added to the variance. Default: 1e-5")
    momentum: Float | None = Field(
        default=0.1,
        description="Weight of the newest batch in the running statistics; null for a cumulative "
        "average. Default: 0.1",
    )

    # Declared by the subclasses, whose defaults differ (True for batch, False for instance norm).
    affine: bool
    track_running_stats: bool
    bias: Bool = Field(default=True, description=BIAS_DESCRIPTION)

    def sample_dims(self) -> tuple[int, ...]:
        """The accepted numbers of dims of one sample."""
        return (self.rank + 1,)

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        expect_dims(self, in_shape, self.sample_dims())
        return self.check_asserted({"num_features": in_shape[0]}, in_shape)

    def buffer_count(self, in_shape: Shape) -> int:
        """``2 C + 1`` (running mean, running variance, batches tracked) when tracking."""
        return 2 * in_shape[0] + 1 if self.track_running_stats else 0

    def buffer_dtypes(self, in_shape: Shape) -> dict[str, int]:
        """Running mean and variance in float32; ``num_batches_tracked`` one int64."""
        if not self.track_running_stats:
            return {}
        return {"float32": 2 * in_shape[0], "int64": 1}

    def uses_running_stats(self) -> bool:
        return self.track_running_stats

    def cancels_channel_bias(self, in_shape: Shape) -> bool:
        """Each channel's mean is subtracted (over the batch and, for instance norm, the
        positions), so a constant added per channel before it changes nothing."""
        return True

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``params = 2*64 = 128``; ``buffers = 2*64 + 1 = 129`` when tracking statistics."""
        lines = super().explain_counts(in_shape, out_shape)
        if self.track_running_stats:
            lines.insert(1, f"buffers = 2*{in_shape[0]} + 1 = {self.buffer_count(in_shape)}")
        return lines


class _BatchNorm(_NormNd):
    """N-d batch normalisation, exactly ``torch.nn.BatchNormNd``.

    Shape:
        unchanged: ``[C, *spatial] -> [C, *spatial]``.
    Receptive field:
        unchanged (the batch statistics are not counted).
    Example::

        - BatchNorm2d
        - BatchNorm2d: {momentum: null, eps: 0.001}
    """

    eps: PositiveFloat = Field(default=1e-5, description="Added to the variance. Default: 1e-5")
    affine: Bool = Field(
        default=True, description="Learnable per-channel weight and bias. Default: True"
    )
    track_running_stats: Bool = Field(
        default=True,
        description="Keep running mean and variance for evaluation. Default: True",
    )

    @field_validator("eps")
    @classmethod
    def _eps_positive(cls, eps: float) -> float:
        if eps <= 0:
            raise ValueError(
                f"eps must be positive (torch's batch_norm refuses eps <= 0 in training); "
                f"received eps={eps}"
            )
        return eps


@register
class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``[C]`` features or ``[C, L]`` sequences (``torch.nn.BatchNorm1d``).

    Shape:
        unchanged: ``[C] -> [C]``, ``[C, L] -> [C, L]``.
    Receptive field:
        unchanged.
    Example::

        - BatchNorm1d
    """

    kind = "BatchNorm1d"
    rank = 1

    def sample_dims(self) -> tuple[int, ...]:
        return (1, 2)


class _InstanceNorm(_NormNd):
    """N-d instance normalisation, exactly ``torch.nn.InstanceNormNd``: each channel of each
    sample is normalised over its spatial positions.

    A sample has the class's layout (``[C, L]`` for 1-d, ``[C, H, W]`` for 2-d) or one dim
    fewer. On one dim fewer torch reads the batch as one unbatched input whose channels are the
    samples: each sample is then normalised over all its values, and torch warns that
    ``num_features`` is unused. netspec accepts that as torch does, but not with ``affine`` or
    ``track_running_stats``, whose C-sized tensors would then only fit a batch of exactly C
    samples. A single position to normalise over is refused, as torch refuses it in training
    ("Expected more than 1 spatial element").

    Shape:
        unchanged: ``[C, *spatial] -> [C, *spatial]``.
    Receptive field:
        unchanged (the per-channel statistics are not counted).
    Example::

        - InstanceNorm2d: {affine: true}
    """

    affine: Bool = Field(
        default=False, description="Learnable per-channel weight and bias. Default: False"
    )
    track_running_stats: Bool = Field(
        default=False,
        description="Keep running mean and variance for evaluation. Default: False",
    )

    def sample_dims(self) -> tuple[int, ...]:
        return (self.rank, self.rank + 1)

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        expect_dims(self, in_shape, self.sample_dims())
        unbatched = len(in_shape) == self.rank
        if unbatched and (self.affine or self.track_running_stats):
            raise fail(
                f"{self.kind} with affine or track_running_stats expects one sample shaped "
                f"{LAYOUTS[self.rank + 1]}; on {list(in_shape)} torch reads the batch as one "
                f"unbatched input whose channels are the samples, which only runs for a batch of "
                f"exactly {in_shape[0]}"
            )
        if prod(in_shape if unbatched else in_shape[1:]) == 1:
            raise fail(
                f"{self.kind} would normalise over a single position of the input "
                f"{list(in_shape)} (torch refuses this in training)"
            )
        return self.check_asserted({"num_features": in_shape[0]}, in_shape)

    def cancels_channel_bias(self, in_shape: Shape) -> bool:
        """Not on one dim fewer, where each sample is normalised over all its values."""
        return len(in_shape) == self.rank + 1


__getattr__ = leaves_on_demand(__name__, {
    "BatchNorm2d": Leaf(_BatchNorm, rank=2),
    "BatchNorm3d": Leaf(_BatchNorm, rank=3),
    "InstanceNorm1d": Leaf(_InstanceNorm, rank=1),
    "InstanceNorm2d": Leaf(_InstanceNorm, rank=2),
    "InstanceNorm3d": Leaf(_InstanceNorm, rank=3),
})
