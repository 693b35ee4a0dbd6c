"""Composite kinds with paths side by side: residual blocks and parallel branches.

Each path is a layer list walked with the same ``walk`` as the top level; where paths meet (an
addition, a concatenation) their shapes must agree and their receptive fields must align.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from pydantic import Field

from netspec.core.errors import SpecPath, fail
from netspec.core.limits import MAX_LAYERS
from netspec.core.shapes import AxisRF, Shape, broadcast_shape
from netspec.layers.base import RF, Layer, LayerReport, Nested, ShapeAfter, TorchCall
from netspec.layers.composite import Composite, walk_field
from netspec.layers.fields import Bool
from netspec.layers.merge import broadcast_field, joined_field, merge_fields
from netspec.layers.registry import AnyLayer, kind_of, register
from netspec.layers.walk import walk

__all__ = ["Parallel", "Residual"]


_STRIDES: dict[tuple[int, Shape], tuple[tuple[Layer, ...], tuple[Fraction, ...]]] = {}


def _body_strides(body: tuple[Layer, ...], in_shape: Shape) -> tuple[Fraction, ...]:
    """A body's effective stride per axis, from a walk with a fresh receptive field.

    Remembered per body *object* and input shape: residual blocks nested n deep would otherwise
    walk the innermost body 2^n times (each block walks its body, then again for the strides).
    Identity, not structure: hashing a deep body costs its whole size at every lookup. The
    table holds up to ``MAX_LAYERS`` bodies, more than one spec can have, and is emptied when
    full, so within one spec it never evicts (a small LRU thrashed: residuals nested 10 deep
    with 300 projected residuals each took 43 s); each entry keeps its body alive, so an id is
    never reused while its entry is there.
    """
    key = (id(body), in_shape)
    known = _STRIDES.get(key)
    if known is not None and known[0] is body:
        return known[1]
    fresh = tuple(AxisRF() for _ in range(len(in_shape) - 1))
    strides = tuple(axis.jump for axis in walk(body, in_shape, fresh, ())[2])
    if len(_STRIDES) >= MAX_LAYERS:
        _STRIDES.clear()
    _STRIDES[key] = (body, strides)
    return strides


@register
class Residual(Composite):
    """``post(body(x) + shortcut(x))``: the residual block of ResNet.

    ``shortcut``: ``identity``; ``auto`` (identity when the body keeps the shape and has stride
    1, else ResNet's projection: a 1x1 convolution carrying the body's stride, no bias, then
    batch norm); ``if_same`` (identity when the body keeps the shape and has stride 1, else no
    shortcut: MobileNetV2); or a layer list.
    Shape: the body's; the shortcut must produce the same shape.
    Receptive field: the widest of body and shortcut; both must share jump and centre.
    ``shortcut_first: true`` registers the shortcut before the body in the built module, so
    parameters come shortcut first (torchvision's RegNet order); the computation is the same.
    Example::

        - Residual:
            body: [{Conv2d: {out_channels: 64, kernel_size: 3, padding: 1}}, ReLU]
            shortcut: identity
            post: [ReLU]
    """

    kind = "Residual"
    required_lists = ("body",)
    body: tuple[AnyLayer, ...] = Field(description="The residual branch.")
    shortcut: Literal["identity", "auto", "if_same"] | tuple[AnyLayer, ...] = Field(
        default="auto", description="identity, auto (projection when needed), if_same, or layers."
    )
    post: tuple[AnyLayer, ...] = Field(default=(), description="Layers after the addition.")
    shortcut_first: Bool = Field(
        default=False, description="Register the shortcut before the body (torchvision's RegNet "
        "order of parameters). Default: False")

    def adds_paths(self) -> bool:
        return True

    def shortcut_layers(self, in_shape: Shape, body_shape: Shape) -> tuple[Layer, ...] | None:
        """The shortcut as layers: () for identity, None for no shortcut at all."""
        if not isinstance(self.shortcut, str):
            return self.shortcut
        if self.shortcut == "identity" or self._keeps_input(in_shape, body_shape):
            return ()
        if self.shortcut == "if_same":
            return None
        return self._projection(in_shape, body_shape)

    def _keeps_input(self, in_shape: Shape, body_shape: Shape) -> bool:
        """Whether ``x`` itself can be added: the body keeps the shape and does not stride (as
        torchvision decides: a stride-2 body on a 1-pixel map keeps its shape, yet its field
        moves by 2 pixels, so the shortcut needs the projection's stride too)."""
        return in_shape == body_shape and all(
            stride == 1 for stride in _body_strides(self.body, in_shape))

    def _projection(self, in_shape: Shape, body_shape: Shape) -> tuple[Layer, ...]:
        rank = len(in_shape) - 1
        strides = _body_strides(self.body, in_shape)
        if rank < 1 or len(body_shape) != len(in_shape) or any(
            s.denominator != 1 for s in strides
        ):
            raise fail(
                f"shortcut: auto cannot project {list(in_shape)} to {list(body_shape)}; "
                "write the shortcut layers explicitly",
                field="shortcut",
            )
        conv = kind_of(f"Conv{rank}d").model_validate({
            "out_channels": body_shape[0],
            "kernel_size": 1,
            "stride": [int(s) for s in strides],
            "bias": False,
        })
        return conv, kind_of(f"BatchNorm{rank}d").model_validate({})

    def children_rows(
        self, in_shape: Shape, rf: RF, path: SpecPath, depth: int
    ) -> tuple[list[LayerReport], Shape, RF]:
        rows, body_shape, body_rf = walk_field(self.body, ("body",), in_shape, rf, path, depth)
        shortcut = self.shortcut_layers(in_shape, body_shape)
        if shortcut is not None:
            cut_rows, cut_shape, cut_rf = walk_field(
                shortcut, ("shortcut",), in_shape, rf, path, depth
            )
            if cut_shape != body_shape:
                raise fail(
                    f"body gives {list(body_shape)} but shortcut gives {list(cut_shape)}; "
                    "they are added, so they must match",
                    field="shortcut",
                )
            rows += cut_rows
            body_rf = merge_fields([("body", body_rf), ("shortcut", cut_rf)], self.kind)
        post_rows, out_shape, out_rf = walk_field(
            self.post, ("post",), body_shape, body_rf, path, depth
        )
        return rows + post_rows, out_shape, out_rf

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        """``netspec.torch_side.modules.Residual``: body, shortcut (``Identity`` for the input
        itself, None for none), post."""
        body_shape = shape_after(self.body, in_shape)
        shortcut = self.shortcut_layers(in_shape, body_shape)
        return TorchCall("Residual", {
            "body": Nested(self.body, in_shape),
            "shortcut": None if shortcut is None else (
                Nested(shortcut, in_shape) if shortcut else TorchCall("Identity")),
            "post": Nested(self.post, body_shape) if self.post else None,
            "shortcut_first": self.shortcut_first,
        })


@register
class Parallel(Composite):
    """Branches on the same input, merged by channel concatenation, addition or product.

    Shape: ``concat``: branch shapes equal except channels, which add up; ``add`` and ``mul``:
    torch's broadcasting of the branch shapes (same number of dims; per dim equal sizes or 1).
    Receptive field: the widest branch; branches must share jump and centre. A branch
    broadcast along a spatial axis, or that sees it whole (a global pool), makes it whole.
    Example (SqueezeNet's Fire expand)::

        - Parallel:
            merge: concat
            branches:
              - [{Conv2d: {out_channels: 64, kernel_size: 1}}, ReLU]
              - [{Conv2d: {out_channels: 64, kernel_size: 3, padding: 1}}, ReLU]
    """

    kind = "Parallel"
    required_lists = ("branches",)
    branches: tuple[tuple[AnyLayer, ...], ...] = Field(
        description="Layer lists applied to the same input."
    )
    merge: Literal["concat", "add", "mul"] = Field(
        default="concat", description="concat (channel axis), add or mul (both broadcast as "
        "torch does). Default: concat"
    )

    def children_rows(
        self, in_shape: Shape, rf: RF, path: SpecPath, depth: int
    ) -> tuple[list[LayerReport], Shape, RF]:
        rows: list[LayerReport] = []
        shapes: list[Shape] = []
        fields: list[tuple[str, RF]] = []
        for index, branch in enumerate(self.branches):
            branch_rows, shape, branch_rf = walk_field(
                branch, ("branches", index), in_shape, rf, path, depth
            )
            rows += branch_rows
            shapes.append(shape)
            fields.append((f"branches[{index}]", branch_rf))
        out_shape = self._merged_shape(shapes)
        fields = [(name, joined_field(field, shape) if self.merge == "concat"
                   else broadcast_field(field, shape, out_shape))
                  for (name, field), shape in zip(fields, shapes, strict=True)]
        return rows, out_shape, merge_fields(fields, self.kind)

    def _merged_shape(self, shapes: list[Shape]) -> Shape:
        first = merged = shapes[0]
        for index, shape in enumerate(shapes[1:], start=1):
            if self.merge != "concat":
                both = broadcast_shape(merged, shape)
                if both is None:
                    raise fail(
                        f"merge: {self.merge} needs shapes that broadcast (torch's rules: the "
                        f"same number of dims, and per dim equal sizes or 1); "
                        f"{_branches_before(index)} {list(merged)}, branches[{index}] "
                        f"gives {list(shape)}",
                        field="branches",
                    )
                merged = both
            elif len(shape) != len(first) or shape[1:] != first[1:]:
                raise fail(
                    f"merge: concat needs the same shape but channels; branches[0] gives "
                    f"{list(first)}, branches[{index}] gives {list(shape)}",
                    field="branches",
                )
        if self.merge != "concat":
            return merged
        return (sum(shape[0] for shape in shapes), *first[1:])

    def adds_paths(self) -> bool:
        return self.merge == "add"

    def merge_label(self) -> str:
        return {"concat": "concat", "add": "+", "mul": "\N{MULTIPLICATION SIGN}"}[self.merge]

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        """``netspec.torch_side.modules.Parallel``: one ``nn.Sequential`` per branch."""
        return TorchCall("Parallel", {
            "branches": [Nested(branch, in_shape) for branch in self.branches],
            "merge": self.merge,
        })


def _branches_before(index: int) -> str:
    return "branches[0] gives" if index == 1 else f"branches[0] to [{index - 1}] together give"
