"""``Gate``: the input times a gate computed from it, ``x * g(x)`` (squeeze-and-excitation).

The gate is a layer list walked with the same ``walk`` as the top level; its output is broadcast
to the input's shape with torch's rules (same number of dims; per dim the input's size or 1).
"""

from __future__ import annotations

from pydantic import Field

from netspec.core.errors import SpecPath, fail
from netspec.core.shapes import Shape, broadcast_shape, spatial_columns
from netspec.core.window import num
from netspec.layers.base import RF, LayerReport, Nested, ShapeAfter, TorchCall
from netspec.layers.composite import Composite, walk_field
from netspec.layers.merge import broadcast_field, merge_fields
from netspec.layers.registry import AnyLayer, register

__all__ = ["Gate"]


@register
class Gate(Composite):
    """``x * g(x)``, ``g`` = ``layers`` applied to ``x``: squeeze-and-excitation, attention gates.

    Shape: the input's; the gate's output must broadcast to it as torch broadcasts (the same
    number of dims, each the input's size or 1: ``[C, 1, 1]`` scales each channel of
    ``[C, H, W]``, ``[1, H, W]`` each position).
    Receptive field: the union of both paths, ``x`` itself and the gate. A gate that pools
    globally (or is broadcast along an axis) sees the whole input, so the output does too.
    Parameters, buffers, MACs: the gate's (the product itself is elementwise: no MACs).
    Builds ``netspec.torch_side.modules.Gate`` with one child, ``gate`` (an ``nn.Sequential``).
    Example (squeeze-and-excitation on 64 channels)::

        - Gate:
            layers:
              - AdaptiveAvgPool2d: {output_size: 1}
              - Conv2d: {out_channels: 16, kernel_size: 1}
              - ReLU
              - Conv2d: {out_channels: 64, kernel_size: 1}
              - Sigmoid
    """

    kind = "Gate"
    required_lists = ("layers",)
    beside_input = frozenset({"layers"})
    layers: tuple[AnyLayer, ...] = Field(description="The gate: layers applied to the input.")

    def children_rows(
        self, in_shape: Shape, rf: RF, path: SpecPath, depth: int
    ) -> tuple[list[LayerReport], Shape, RF]:
        rows, gate_shape, gate_rf = walk_field(self.layers, ("layers",), in_shape, rf, path, depth)
        if broadcast_shape(in_shape, gate_shape) != in_shape:
            raise fail(
                f"the gate gives {list(gate_shape)}, which does not broadcast to the input "
                f"{list(in_shape)} it multiplies (torch's rules: the same number of dims, each "
                "the input's size or 1)",
                field="layers",
            )
        stretched = broadcast_field(gate_rf, gate_shape, in_shape)
        return rows, in_shape, merge_fields([("the input", rf), ("the gate", stretched)],
                                            self.kind)

    def merge_label(self) -> str:
        return "\N{MULTIPLICATION SIGN}"

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``out = x * g(x): [64, 28, 28] * [64, 1, 1] = [64, 28, 28]``."""
        gate_shape = self._gate_shape(in_shape)
        return [f"out = x * g(x): {list(in_shape)} * {list(gate_shape)} = {list(out_shape)}"]

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        """``RF = x's 3x3 with the gate's 11x11 = 11x11 (whole)``: the union of both paths."""
        if not rf:
            return []
        gate = self._last_gate_row(in_shape, rf).rf
        out = self.receptive_field(rf, in_shape)
        whole = " (whole input)" if not any(axis.positional for axis in out) else ""
        return [f"RF = union of x's {_sizes(rf)} and the gate's {_sizes(gate)} = "
                f"{_sizes(out)}{whole}"]

    def _gate_shape(self, in_shape: Shape) -> Shape:
        return self._last_gate_row(in_shape, ()).out_shape

    def _last_gate_row(self, in_shape: Shape, rf: RF) -> LayerReport:
        rows = self.report(in_shape, rf, index=0, name="", path=(), depth=0)
        return [row for row in rows if row.depth == 1][-1]

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        """``netspec.torch_side.modules.Gate``: the gate as one ``nn.Sequential``."""
        return TorchCall("Gate", {"gate": Nested(self.layers, in_shape)})


def _sizes(rf: RF) -> str:
    return "x".join(num(axis.size) for axis in spatial_columns(rf)) or "-"
