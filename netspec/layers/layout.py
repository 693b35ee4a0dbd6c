"""Layout changes that keep every value: ``Permute`` (axes of a sample, channels-last) and
``ChannelShuffle`` (channels interleaved across groups).

Dims here are dims of ONE sample, as the sample shapes in a spec are written (``[C, H, W]``:
dim 0 is the channels); the built module adds the batch dim (``torch.permute`` dims without the
batch). Negative dims count from the end, as in torch.

Receptive field across ``Permute``: a field has one column per spatial axis of a channels-first
sample (``[C, H, W]``: H and W). The columns follow their axes through the permutation, so the
field still names the right input pixels after any permute. While the channels are not dim 0
(``[H, W, C]``), the field holds one column per sample dim, the channel dim's column being the
marker ``CHANNEL_AXIS`` (size 0, never shown): layers that read "dims after the first are
spatial" (``Linear``, ``Flatten``) see no ``[C, *spatial]`` layout then and leave the field as
it is, which is right for channels-last ``LayerNorm`` and ``Linear`` (they act per position).
Permuting the channels back to dim 0 restores the ordinary field.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from netspec.core.errors import fail
from netspec.core.shapes import CHANNEL_AXIS, Shape, column_start
from netspec.layers.base import RF, Layer
from netspec.layers.fields import PositiveInt, StrictInt
from netspec.layers.registry import register

__all__ = ["ChannelShuffle", "Permute", "sample_dim"]


def sample_dim(dim: int, in_shape: Shape, field: str) -> int:
    """``dim`` of one sample ``in_shape`` as an index in ``0..len(in_shape) - 1``; negative dims
    count from the end, as in torch; one out of range is an error on ``field``."""
    rank = len(in_shape)
    if not -rank <= dim < rank:
        raise fail(
            f"{field} must be in [{-rank}, {rank - 1}] for the sample {list(in_shape)} (dims of "
            f"one sample: 0 is its first dim, the batch is not counted); received {field}={dim}",
            field=field,
        )
    return dim % rank


@register
class Permute(Layer):
    """Reorders the dims of a sample: ``torch.permute`` without the batch dim.

    ``{dims: [1, 2, 0]}`` turns ``[C, H, W]`` into channels-last ``[H, W, C]`` (``x.permute(0,
    2, 3, 1)`` on the batch), ``{dims: [2, 0, 1]}`` turns it back.

    Shape:
        ``out[k] = in[dims[k]]``.
    Receptive field:
        each spatial axis keeps its field and moves with its dim; a channels-last sample keeps
        one field per spatial axis (see the module notes).
    Parameters, buffers, MACs: none.
    Example (ConvNeXt's layer norm over the channels of a feature map)::

        - Permute: {dims: [1, 2, 0]}
        - LayerNorm: {eps: 1.0e-6}
        - Permute: {dims: [2, 0, 1]}
    """

    kind = "Permute"

    dims: tuple[StrictInt, ...] = Field(
        min_length=1, description="The new order of the dims of one sample (no batch dim)."
    )

    @field_validator("dims")
    @classmethod
    def _a_permutation(cls, dims: tuple[int, ...]) -> tuple[int, ...]:
        rank = len(dims)
        if any(not -rank <= d < rank for d in dims) or len({d % rank for d in dims}) != rank:
            raise ValueError(
                f"dims must list each of the {rank} dims of a sample once (0 to {rank - 1}, or "
                f"negative from the end); received {list(dims)}"
            )
        return dims

    def order(self, in_shape: Shape) -> tuple[int, ...]:
        """``dims`` as non-negative indices into ``in_shape``."""
        if len(self.dims) != len(in_shape):
            raise fail(
                f"dims has {len(self.dims)} entries but the sample {list(in_shape)} has "
                f"{len(in_shape)} dims; list each dim of one sample once (no batch dim)",
                field="dims",
            )
        return tuple(d % len(in_shape) for d in self.dims)

    def output_shape(self, in_shape: Shape) -> Shape:
        return tuple(in_shape[d] for d in self.order(in_shape))

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        order = self.order(in_shape)
        start = column_start(rf, in_shape)
        if start is None:
            return rf  # no layout (after Flatten...): nothing to follow
        columns = (CHANNEL_AXIS, *rf) if start else rf  # channels-first: dim 0 has no column
        moved = tuple(columns[d] for d in order)
        return moved[1:] if moved[0] == CHANNEL_AXIS else moved

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``out = [in[1], in[2], in[0]] = [56, 56, 96]``."""
        picked = ", ".join(f"in[{d}]" for d in self.order(in_shape))
        return [f"out = [{picked}] = {list(out_shape)}"]


@register
class ChannelShuffle(Layer):
    """Interleaves the channels of ``groups`` groups, exactly ``torch.nn.ChannelShuffle``.

    ``[C, *]`` is seen as ``[groups, C / groups, *]``, transposed to ``[C / groups, groups, *]``
    (ShuffleNet: channel ``i * groups + j`` of the output is channel ``j * C / groups + i``).

    Shape: unchanged; ``C`` (dim 0) must be a multiple of ``groups``.
    Receptive field: unchanged (it moves whole channels).
    Parameters, buffers, MACs: none.
    Example::

        - ChannelShuffle: {groups: 2}
    """

    kind = "ChannelShuffle"

    groups: PositiveInt = Field(description="Number of channel groups to interleave.")

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) < 2:
            raise fail(
                f"ChannelShuffle expects one sample shaped [C, *spatial] (at least 2 dims, as "
                f"torch needs); received {list(in_shape)}"
            )
        if in_shape[0] % self.groups:
            raise fail(
                f"the channels, {in_shape[0]} (dim 0 of {list(in_shape)}), must be a multiple "
                f"of groups; received groups={self.groups}",
                field="groups",
            )
        return in_shape

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``[116, 28, 28] as [2, 58, 28, 28], transposed: shape unchanged``."""
        per = in_shape[0] // self.groups
        rest = "".join(f", {n}" for n in in_shape[1:])
        return [f"{list(in_shape)} as [{self.groups}, {per}{rest}], groups transposed: shape "
                "unchanged"]
