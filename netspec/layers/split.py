"""Slices of a sample along one dim: ``Chunk`` (one piece of ``torch.chunk``) and ``Narrow``
(``torch.narrow``). ShuffleNetV2 splits its channels in two with ``Chunk``.

Dims are dims of ONE sample (``[C, H, W]``: 0 is the channels), negative from the end; the
built module adds the batch dim.

Receptive field: slicing the channels changes nothing. Slicing a spatial axis keeps the field's
size and jump; the first unit of the slice is unit ``offset`` of the input, so its centre moves
by ``offset * jump``.
"""

from __future__ import annotations

from pydantic import Field

from netspec.core.errors import fail
from netspec.core.shapes import CHANNEL_AXIS, AxisRF, Shape, column_start
from netspec.core.window import num
from netspec.layers.base import RF, Layer
from netspec.layers.fields import NonNegativeInt, PositiveInt, StrictInt
from netspec.layers.layout import sample_dim
from netspec.layers.registry import register

__all__ = ["Chunk", "Narrow", "chunk_sizes"]


def chunk_sizes(size: int, chunks: int) -> list[int]:
    """The pieces ``torch.chunk`` cuts ``size`` into: each ``ceil(size / chunks)``, the last one
    smaller, and fewer than ``chunks`` pieces when that many do not fit (10 in 4: 3, 3, 3, 1;
    5 in 4: 2, 2, 1). An empty dim gives ``chunks`` empty pieces."""
    if size == 0:
        return [0] * chunks
    step = -(-size // chunks)
    return [min(step, size - start) for start in range(0, size, step)]


def sliced_field(rf: RF, in_shape: Shape, dim: int, offset: int) -> RF:
    """The field after keeping positions ``offset...`` of sample dim ``dim``."""
    start = column_start(rf, in_shape)  # channels-first: dim 0 (the channels) has no column
    if start is None:
        return rf
    column = dim - start
    if column < 0 or rf[column] == CHANNEL_AXIS or not rf[column].positional or not offset:
        return rf
    axis = rf[column]
    moved = AxisRF(axis.size, axis.jump, axis.start + offset * axis.jump)
    return (*rf[:column], moved, *rf[column + 1 :])


def _field_line(rf: RF, in_shape: Shape, dim: int, offset: int) -> list[str]:
    after = sliced_field(rf, in_shape, dim, offset)
    if after == rf:
        return []
    (before, moved), = ((a, b) for a, b in zip(rf, after, strict=True) if a != b)
    return [f"centre = {num(before.start)} + {offset}*{num(before.jump)} = {num(moved.start)}; "
            "RF and jump unchanged"]


@register
class Chunk(Layer):
    """One piece of ``torch.chunk(x, chunks, dim)`` on a sample: piece ``index``.

    ShuffleNetV2's ``x.chunk(2, dim=1)`` is ``Chunk: {chunks: 2, index: 0}`` and
    ``{chunks: 2, index: 1}``.

    Shape: dim ``dim`` of size ``n`` becomes the piece's size: torch cuts ``ceil(n / chunks)``
    per piece, the last one smaller, and there may be fewer than ``chunks`` pieces (``n = 5``,
    ``chunks = 4``: 2, 2, 1); ``index`` must name one that exists.
    Receptive field: see the module notes (a spatial slice moves the centre).
    Parameters, buffers, MACs: none.
    Example::

        - Parallel:
            branches:
              - [{Chunk: {chunks: 2, index: 0}}]
              - [{Chunk: {chunks: 2, index: 1}}, {Conv2d: {out_channels: 58, kernel_size: 1}}]
    """

    kind = "Chunk"

    chunks: PositiveInt = Field(description="How many pieces torch.chunk asks for.")
    index: NonNegativeInt = Field(default=0, description="The piece kept. Default: 0")
    dim: StrictInt = Field(
        default=0, description="Dim of one sample to cut (0: channels; no batch dim). Default: 0"
    )

    def piece(self, in_shape: Shape) -> tuple[int, int, int]:
        """(dim, offset, size) of the piece kept."""
        dim = sample_dim(self.dim, in_shape, "dim")
        sizes = chunk_sizes(in_shape[dim], self.chunks)
        if self.index >= len(sizes):
            raise fail(
                f"torch.chunk cuts dim {self.dim} of {list(in_shape)} ({in_shape[dim]}) into "
                f"{len(sizes)} piece{'s' if len(sizes) > 1 else ''} {sizes} for chunks="
                f"{self.chunks}; received index={self.index}",
                field="index",
            )
        return dim, sum(sizes[: self.index]), sizes[self.index]

    def output_shape(self, in_shape: Shape) -> Shape:
        dim, _, size = self.piece(in_shape)
        return (*in_shape[:dim], size, *in_shape[dim + 1 :])

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        dim, offset, _ = self.piece(in_shape)
        return sliced_field(rf, in_shape, dim, offset)

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``pieces of ceil(116/2) = 58: [58, 58]; index 1: positions 58 to 115``."""
        dim, offset, size = self.piece(in_shape)
        n = in_shape[dim]
        sizes = chunk_sizes(n, self.chunks)
        return [f"pieces of ceil({n}/{self.chunks}) = {sizes[0]}: {sizes}; index {self.index}: "
                f"positions {offset} to {offset + size - 1} of dim {dim}"]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        dim, offset, _ = self.piece(in_shape)
        return _field_line(rf, in_shape, dim, offset)


@register
class Narrow(Layer):
    """``length`` positions of one dim from ``start``: ``torch.narrow`` on a sample.

    ``dim`` is a dim of one sample (no batch); a negative ``start`` counts from the end, as in
    torch.

    Shape: dim ``dim`` becomes ``length``; ``start + length`` must fit in it.
    Receptive field: see the module notes (a spatial slice moves the centre).
    Parameters, buffers, MACs: none.
    Example::

        - Narrow: {dim: 0, start: 0, length: 32}    # the first 32 channels
    """

    kind = "Narrow"

    dim: StrictInt = Field(description="Dim of one sample to slice (0: channels; no batch dim).")
    start: StrictInt = Field(description="First position kept (negative: from the end).")
    length: PositiveInt = Field(description="How many positions are kept.")

    def span(self, in_shape: Shape) -> tuple[int, int]:
        """(dim, first position) of the slice."""
        dim = sample_dim(self.dim, in_shape, "dim")
        n = in_shape[dim]
        if not -n <= self.start < n:
            raise fail(
                f"start must be in [{-n}, {n - 1}] for dim {self.dim} of {list(in_shape)} "
                f"(size {n}); received start={self.start}",
                field="start",
            )
        first = self.start % n
        if first + self.length > n:
            raise fail(
                f"start ({first}) + length ({self.length}) exceeds the size of dim {self.dim} "
                f"of {list(in_shape)}, {n}",
                field="length",
            )
        return dim, first

    def output_shape(self, in_shape: Shape) -> Shape:
        dim, _ = self.span(in_shape)
        return (*in_shape[:dim], self.length, *in_shape[dim + 1 :])

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        dim, first = self.span(in_shape)
        return sliced_field(rf, in_shape, dim, first)

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        dim, first = self.span(in_shape)
        return [f"positions {first} to {first + self.length - 1} of dim {dim}: "
                f"{in_shape[dim]} -> {self.length}"]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        dim, first = self.span(in_shape)
        return _field_line(rf, in_shape, dim, first)
