"""Reshapes: ``Flatten`` and ``Unflatten``, and the helpers for torch's batched ``dim`` arguments.

Dims in these arguments are dims of the batched tensor ``[N, *sample]`` that the built model
sees, exactly as in torch: dim 0 is the batch and dim 1 the first dim of a sample (the channels
of ``[C, H, W]``). A reshape that would involve the batch dimension is refused, since it would
mix samples and leave no per-sample shape.

Receptive field: an axis that is merged or split loses its positions, and from then on each
unit is counted as seeing its whole extent (``AxisRF.whole``): that is the field of a ``Linear``
applied after the reshape, and it stays so downstream. The reshaped sample's dims no longer
match one column each, so no later layer could tell which dim an axis left located follows:
such an axis is unknown from the reshape on (``?``), never a number that stopped growing.
"""

from __future__ import annotations

from math import prod
from typing import Annotated

from pydantic import Field, field_validator

from netspec.core.errors import SpecError, fail
from netspec.core.shapes import CHANNEL_AXIS, AxisRF, Shape, column_start
from netspec.core.window import whole_field_lines
from netspec.layers.base import RF, Layer
from netspec.layers.fields import StrictInt
from netspec.layers.registry import register

__all__ = ["Flatten", "Unflatten"]


def batched_layout(in_shape: Shape) -> str:
    """``[N, 16, 5, 5]``: the batched tensor the built model sees for one sample ``in_shape``."""
    return "[" + ", ".join(["N", *map(str, in_shape)]) + "]"


def batched_dim(dim: int, in_shape: Shape, field: str) -> int:
    """``dim`` of the batched tensor ``[N, *in_shape]`` as an index in ``0..len(in_shape)``.

    Negative dims count from the end, as in torch; one out of range is an error on ``field``.
    """
    rank = len(in_shape) + 1
    if not -rank <= dim < rank:
        raise fail(
            f"{field} must be in [{-rank}, {rank - 1}] for the batched input "
            f"{batched_layout(in_shape)} (dims count the batch, as in torch); "
            f"received {field}={dim}",
            field=field,
        )
    return dim % rank


def _batch_dim_error(field: str, value: int, in_shape: Shape, what: str) -> SpecError:
    return fail(
        f"{field}={value} is the batch dimension N of {batched_layout(in_shape)}: {what} would "
        f"mix samples. Dims count the batch as in torch: the first dim of a sample is 1",
        field=field,
    )


def reshaped_field(rf: RF, in_shape: Shape, first: int, last: int) -> RF:
    """The field after sample dims ``first`` to ``last`` are merged into one (``Flatten``) or
    one of them is split (``Unflatten``, ``first == last``): their located axes become whole,
    and any other located axis, whose dim no column can follow any more, unknown. Unchanged
    when earlier reshapes left no layout to follow."""
    start = column_start(rf, in_shape)
    if start is None:
        return rf
    return tuple(
        axis.whole(in_shape[dim]) if first <= dim <= last
        else AxisRF.unknown() if axis.positional else axis
        for dim, axis in enumerate(rf, start=start)
    )


@register
class Flatten(Layer):
    """Merges dims ``start_dim`` to ``end_dim`` into one, exactly ``torch.nn.Flatten``.

    Dims are those of the batched input ``[N, *sample]``: the default ``start_dim: 1`` flattens
    a whole sample, ``[16, 5, 5] -> [400]``. Merging the batch (``start_dim: 0``) is refused.

    Shape:
        ``[*a, S_start, ..., S_end, *b] -> [*a, S_start * ... * S_end, *b]``.
    Receptive field:
        each merged spatial axis of extent ``n`` becomes whole, ``r_out = r_in + (n - 1) j_in``,
        and stays whole downstream (in ``[C, *spatial]`` and channels-last layouts alike);
        ``start_dim == end_dim`` changes nothing. Once dims are merged the columns no longer
        follow dims, so a spatial axis left unmerged (``[C, H, W] -> [C*H, W]``) has an unknown
        field from here on rather than one that later layers could not grow.
    Example::

        - Flatten                   # [16, 5, 5] -> [400]
        - Flatten: {start_dim: 2}   # [C, H, W] -> [C, H*W]
    """

    kind = "Flatten"

    start_dim: StrictInt = Field(
        default=1, description="First dim to merge, of the batched input [N, *sample]. Default: 1"
    )
    end_dim: StrictInt = Field(default=-1, description="Last dim to merge. Default: -1")

    def merged(self, in_shape: Shape) -> tuple[int, int]:
        """(first, last) sample dims merged, 0-based; equal when nothing is merged."""
        start = batched_dim(self.start_dim, in_shape, "start_dim")
        end = batched_dim(self.end_dim, in_shape, "end_dim")
        if start > end:
            raise fail(
                f"start_dim cannot come after end_dim; received start_dim={self.start_dim}, "
                f"end_dim={self.end_dim} (dims {start} and {end} of the batched input "
                f"{batched_layout(in_shape)})",
                field="start_dim",
            )
        if start == 0 and end > 0:
            raise _batch_dim_error("start_dim", self.start_dim, in_shape, "merging it")
        return start - 1, end - 1

    def output_shape(self, in_shape: Shape) -> Shape:
        first, last = self.merged(in_shape)
        if first == last:
            return in_shape
        return (*in_shape[:first], prod(in_shape[first : last + 1]), *in_shape[last + 1 :])

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        first, last = self.merged(in_shape)
        return rf if first == last else reshaped_field(rf, in_shape, first, last)

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``out = 16*5*5 = 400``: the merged dims multiply."""
        first, last = self.merged(in_shape)
        if first == last:
            return []
        sizes = "*".join(map(str, in_shape[first : last + 1]))
        return [f"out = {sizes} = {prod(in_shape[first : last + 1])}"]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        """Each merged spatial axis is seen whole: ``RF = 16 + (5-1)*4 = 32, whole axis``."""
        first, last = self.merged(in_shape)
        start = column_start(rf, in_shape)
        if first == last or start is None:
            return []
        spatial = [(axis, in_shape[dim] if first <= dim <= last else None)
                   for dim, axis in enumerate(rf, start=start) if axis != CHANNEL_AXIS]
        return whole_field_lines([axis for axis, _ in spatial], [n for _, n in spatial])


UnflattenedSize = Annotated[tuple[StrictInt, ...], Field(min_length=1)]


@register
class Unflatten(Layer):
    """Splits dim ``dim`` into ``unflattened_size``, exactly ``torch.nn.Unflatten``.

    ``dim`` is a dim of the batched input ``[N, *sample]``, as in torch: ``dim: 1`` splits the
    first dim of a sample. One size may be ``-1``, inferred from the others, as torch allows.

    Shape:
        ``[*a, S, *b] -> [*a, U_1, ..., U_k, *b]`` with ``U_1 * ... * U_k = S``.
    Receptive field:
        a spatial axis split into several loses its positions and becomes whole (see
        ``Flatten``). Once a dim is split the columns no longer follow dims, so the spatial
        axes not split (all of them, when the channels are split) have unknown fields from
        here on rather than ones that later layers could not grow.
    Example::

        - Linear: {out_features: 784}
        - Unflatten: {dim: 1, unflattened_size: [16, 7, 7]}   # [784] -> [16, 7, 7]
    """

    kind = "Unflatten"

    dim: StrictInt = Field(description="Dim of the batched input [N, *sample] to split.")
    unflattened_size: UnflattenedSize = Field(
        description="Sizes it splits into; their product is its size. One may be -1 (inferred)."
    )

    @field_validator("unflattened_size")
    @classmethod
    def _positive_or_one_inferred(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        if any(size < 1 and size != -1 for size in sizes):
            raise ValueError(
                f"each size must be positive, or -1 to have it inferred; received {list(sizes)}"
            )
        if sizes.count(-1) > 1:
            raise ValueError(f"only one size can be -1 (inferred); received {list(sizes)}")
        return sizes

    def split(self, in_shape: Shape) -> tuple[int, tuple[int, ...]]:
        """The sample dim split (0-based) and the sizes it becomes, ``-1`` resolved."""
        index = batched_dim(self.dim, in_shape, "dim")
        if index == 0:
            raise _batch_dim_error("dim", self.dim, in_shape, "splitting it")
        size, sizes = in_shape[index - 1], self.unflattened_size
        known = prod(s for s in sizes if s != -1)
        if -1 in sizes:
            if size % known:
                raise self._product_error(in_shape, size, f"{size} is not a multiple of {known}")
            sizes = tuple(size // known if s == -1 else s for s in sizes)
        elif known != size:
            raise self._product_error(in_shape, size, f"their product is {known}")
        return index - 1, sizes

    def _product_error(self, in_shape: Shape, size: int, rule: str) -> SpecError:
        return fail(
            f"unflattened_size must multiply to the size of dim {self.dim}, {size} (input "
            f"{batched_layout(in_shape)}); received {list(self.unflattened_size)}: {rule}",
            field="unflattened_size",
        )

    def output_shape(self, in_shape: Shape) -> Shape:
        dim, sizes = self.split(in_shape)
        return (*in_shape[:dim], *sizes, *in_shape[dim + 1 :])

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        dim, sizes = self.split(in_shape)
        return rf if len(sizes) == 1 else reshaped_field(rf, in_shape, dim, dim)
