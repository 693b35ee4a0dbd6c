"""Dropout: ``Dropout``, ``Dropout1d/2d/3d`` (whole channels) and ``AlphaDropout``.

All of them leave the shape and the receptive field unchanged and have no parameters. They
differ in the samples they take, following torch's rank rules on the batched tensor
``[N, *sample]`` that the built model sees:

- ``Dropout`` and ``AlphaDropout`` take any sample.
- ``Dropout1d`` takes ``[C, L]``, ``Dropout3d`` takes ``[C, D, H, W]``. On other ranks torch
  either fails, or (one dim fewer, and ``Dropout3d`` on any other rank, with a warning) reads the
  batch as one unbatched input and drops whole *samples* instead of channels; netspec rejects
  those.
- ``Dropout2d`` takes any sample: torch always treats dim 1 as the channels. It warns on ranks
  other than ``[C, H, W]``, and on ``[C, L]`` drops whole channels of a sequence, as
  ``Dropout1d`` does.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from netspec.core.errors import fail
from netspec.core.shapes import Shape
from netspec.layers.base import Layer
from netspec.layers.fields import LAYOUTS, Bool, Probability
from netspec.layers.leaves import Leaf, leaves_on_demand


class _DropoutNd(Layer):
    """What every dropout shares: the probability ``p`` and ``inplace``.

    Shape:
        unchanged.
    Receptive field:
        unchanged (pointwise).
    """

    is_dropout = True
    sample_dims: ClassVar[int | None] = None
    """The number of dims a sample must have, or None for any."""
    torch_takes_any_rank: ClassVar[bool] = False
    """True when torch runs on every rank, reading all but its own as unbatched input."""

    p: Probability = Field(default=0.5, description="Probability of dropping. Default: 0.5")
    inplace: Bool = Field(default=False, description="Modify the input in place. Default: False")

    @field_validator("p")
    @classmethod
    def _p_is_probability(cls, p: float) -> float:
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability p must be between 0 and 1; received p={p}")
        return p

    def output_shape(self, in_shape: Shape) -> Shape:
        dims = self.sample_dims
        if dims is None or len(in_shape) == dims:
            return in_shape
        if len(in_shape) < dims or self.torch_takes_any_rank:
            effect = (
                "torch would read a batch of such samples as one unbatched input and drop whole "
                "samples instead of channels"
            )
        else:
            effect = "torch refuses it"
        raise fail(
            f"{self.kind} drops whole channels of samples shaped {LAYOUTS[dims]} ({dims} dims); "
            f"received {list(in_shape)}: {effect}. Use Dropout for elementwise dropout"
        )


__getattr__ = leaves_on_demand(__name__, {
    "Dropout": Leaf(_DropoutNd, doc="""
    Zeroes each element with probability ``p``, exactly ``torch.nn.Dropout``.

    Shape: unchanged. Receptive field: unchanged.
    Example::

        - Dropout: {p: 0.2}
    """),
    "Dropout1d": Leaf(_DropoutNd, sample_dims=2, doc="""
    Zeroes whole channels of ``[C, L]`` samples, exactly ``torch.nn.Dropout1d``.

    Shape: unchanged, ``[C, L]`` only. Receptive field: unchanged.
    Example::

        - Dropout1d: {p: 0.1}
    """),
    "Dropout2d": Leaf(_DropoutNd, doc="""
    Zeroes whole channels of ``[C, H, W]`` samples, exactly ``torch.nn.Dropout2d``.

    torch accepts any rank (warning on ranks other than ``[C, H, W]``), always reading dim 1 of
    the batch as the channels; netspec accepts the same.

    Shape: unchanged. Receptive field: unchanged.
    Example::

        - Dropout2d: {p: 0.1}
    """),
    "Dropout3d": Leaf(_DropoutNd, sample_dims=4, torch_takes_any_rank=True, doc="""
    Zeroes whole channels of ``[C, D, H, W]`` samples, exactly ``torch.nn.Dropout3d``.

    Shape: unchanged, ``[C, D, H, W]`` only. Receptive field: unchanged.
    Example::

        - Dropout3d: {p: 0.1}
    """),
    "AlphaDropout": Leaf(_DropoutNd, doc="""
    Dropout that keeps a SELU network's mean and variance, exactly ``torch.nn.AlphaDropout``.

    Shape: unchanged. Receptive field: unchanged.
    Example::

        - AlphaDropout: {p: 0.1}
    """),
})
