"""Lint rules on the whole network (NS106-NS112): they look at every row at once. No torch.

Like the row rules (``netspec.advice.lints``), they ask the kinds what they are and do, and never
name a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from math import prod
from typing import TYPE_CHECKING

from netspec.advice.lint_nodes import Finding, Node, shape_text, where
from netspec.core.shapes import CHANNEL_AXIS
from netspec.core.window import ROW_WORDS, axis_names, num

if TYPE_CHECKING:
    from netspec.analysis.analysis import Report

FAR_LARGER = 5
"""NS108 fires when the final receptive field exceeds this many times the input on an axis."""
MOST = 0.5
"""NS109 fires when one layer holds more than this share of all parameters."""



def collapsed_spatial(nodes: Sequence[Node], report: Report) -> Iterator[tuple[Node, Finding]]:
    """NS106: an axis shrinks to 1, and later layers still slide windows wider than 1 on it."""
    rank = len(report.input_shape)
    leaves = [n for n in nodes if n.leaf and len(n.row.in_shape) == len(n.row.out_shape) == rank]
    collapsed: set[int] = set()
    for position, node in enumerate(leaves):
        axes = [
            a for a in range(1, rank)
            if a not in collapsed and node.row.in_shape[a] > 1 and node.row.out_shape[a] == 1
        ]
        collapsed.update(axes)
        if not axes:
            continue
        wasted = [
            later for later in leaves[position + 1:]
            if any(later.row.in_shape[a] == 1 and w.span > 1
                   for a, w in zip(range(1, rank), later.layer.windows(later.row.in_shape),
                                   strict=False) if a in axes)
        ]
        if wasted:
            names = " and ".join(axis_names(rank - 1)[a - 1] for a in axes)
            first = wasted[0]
            kernel = "x".join(str(w.kernel) for w in first.layer.windows(first.row.in_shape))
            count = (f"{len(wasted)} later layers still slide" if len(wasted) > 1
                     else "a later layer still slides")
            yield node, ("NS106", f"the spatial size reaches 1 on {names} here "
                         f"({shape_text(node.row.out_shape)}), yet {count} windows "
                         f"wider than 1 over it (first: {where(first.row)}, kernel {kernel}): "
                         "they see mostly padding; downsample less, use a larger input, or "
                         "use 1x1 kernels there")


def receptive_field_vs_input(
    nodes: Sequence[Node], report: Report
) -> Iterator[tuple[Node, Finding]]:
    """NS107/NS108: the final field against the input, per spatial axis."""
    top = [node for node in nodes if node.row.depth == 0]
    sizes = report.input_shape[1:]
    if not top or not report.rf or len(report.rf) != len(sizes):
        return
    if not all(axis.known for axis in report.rf):  # a plugin kind did not say
        return
    last = top[-1]
    field = "x".join(num(axis.size) for axis in report.rf)
    image = "x".join(map(str, sizes))
    words = " and ".join(dict.fromkeys(ROW_WORDS.get(name, "positions")
                                       for name in axis_names(len(sizes))))
    if any(axis.size < n for axis, n in zip(report.rf, sizes, strict=True)):
        if all(axis.positional for axis in report.rf):
            advice = ("the head never sees the whole input. For one prediction per input, end "
                      "with a global pool or Flatten + Linear; for dense outputs this is "
                      "expected (lint_ignore: [NS107])")
        else:
            advice = f"{words} that floor division drops on the way never reach the head"
        yield last, ("NS107", f"each output unit sees {field} of the {image} input: {advice}")
    if any(axis.size > FAR_LARGER * n for axis, n in zip(report.rf, sizes, strict=True)):
        yield last, ("NS108", f"the final receptive field {field} is more than {FAR_LARGER} "
                     f"times the {image} input: the deepest layers mostly see padding; the "
                     "network is deeper or downsamples later than this input size needs")


def dominant_layer(nodes: Sequence[Node], report: Report) -> Iterator[tuple[Node, Finding]]:
    """NS109: one layer holds most of the parameters (the Linear after a large Flatten)."""
    weighted = [node for node in nodes if node.leaf and node.row.params]
    if len(weighted) < 2 or not report.params:
        return
    top = max(weighted, key=lambda node: node.row.params)
    share = top.row.params / report.params
    if share <= MOST:
        return
    message = f"holds {top.row.params:,} of the {report.params:,} parameters ({share:.0%})"
    in_rf, flat = top.row.in_rf, top.row.in_shape
    raw_input = len(flat) == 1 and flat[0] == prod(report.input_shape)  # an MLP on the input
    flattened = in_rf and not any(a.positional for a in in_rf) and all(a.known for a in in_rf)
    if len(flat) == 1 and flattened and not raw_input:
        message += (f"; its input is a flattened feature map of {top.row.in_shape[0]:,} values: "
                    "pooling the map smaller before Flatten (an adaptive average pool) or "
                    "fewer channels would shrink it")
    yield top, ("NS109", message)





def linear_on_a_map(nodes: Sequence[Node], report: Report) -> Iterator[tuple[Node, Finding]]:
    """NS111: a fully connected layer on a channels-first feature map that convolutions or pools
    made, its spatial axes left: it maps each row separately; ``Flatten`` was meant. Not on a
    channels-last sample (``Permute``: ConvNeXt's pointwise Linear), where mapping the last dim
    is the point."""
    rank = len(report.input_shape)
    windowed = False
    for node in nodes:
        if not node.leaf:
            continue
        shape = node.row.in_shape
        # a channels-first map: a positional field on every dim after the channels (not after
        # Permute to channels-last, nor on the token groups that a Partition's layers see)
        mapped = (CHANNEL_AXIS not in node.row.in_rf and len(node.row.in_rf) == len(shape) - 1
                  and all(axis.positional for axis in node.row.in_rf))
        if node.layer.is_fully_connected and windowed and len(shape) == rank >= 3 and mapped:
            flat = prod(shape)
            yield node, ("NS111", f"it receives the feature map {shape_text(shape)} and, as in "
                         f"torch, maps only its last dim ({shape[-1]} values) at each of the "
                         f"{prod(shape[:-1]):,} other positions, giving "
                         f"{shape_text(node.row.out_shape)}; to classify the map, put Flatten "
                         f"before it (in_features would be {flat:,})")
        windowed = windowed or bool(node.layer.windows(shape))


def channels_last_input(nodes: Sequence[Node], report: Report) -> Iterator[Finding]:
    """NS112: an input shaped like Keras's channels-last image ``[H, W, C]`` read by a
    channels-first window (a convolution or pool) as ``[C, H, W]``."""
    shape = report.input_shape
    first = next((node for node in nodes if node.leaf), None)
    if first is None or len(shape) < 3 or not first.layer.windows(shape):
        return
    if shape[-1] in (1, 3, 4) and shape[0] >= 4 * shape[-1] and shape[0] > 4:
        fixed = [shape[-1], *shape[:-1]]
        yield ("NS112", f"input {list(shape)} looks channels-last ([H, W, C], as Keras and "
               f"images on disk have it), yet the first layer, {first.row.kind}, reads "
               f"{shape[0]} channels: torch is channels-first; write input: {fixed}")


NETWORK_RULES: tuple[Callable[[Sequence[Node], Report], Iterator[tuple[Node, Finding]]], ...] = (
    collapsed_spatial,
    receptive_field_vs_input,
    dominant_layer,
    linear_on_a_map,
)
