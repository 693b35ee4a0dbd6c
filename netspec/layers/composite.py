"""Composite kinds: named groups, residual blocks, parallel branches, and repeats.

Each holds layer lists of its own and is analysed by walking them with the same ``walk`` as the
top level, so shapes, parameters, MACs and receptive fields flow through any nesting. Each builds
into a small module of ``netspec.modules`` (or a plain ``nn.Sequential``) inside the top-level
``nn.Sequential``.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..errors import NetspecError, SpecPath, fail, format_path
from ..report import LayerReport, expanded, walk
from ..shapes import AxisRF, Shape
from .base import RF, AnyLayer, Layer, NonNegativeInt, ParamCount, kind_of, register

__all__ = ["Parallel", "Repeat", "Residual", "Sequential"]

MAX_REPEAT = 1000
MAX_REPEATED_MODULES = 10_000  # nested Repeats multiply: 1000 x 1000 would be a million layers


class Composite(Layer):
    """A layer made of layer lists. Its row sums its children's rows; they follow it, nested."""

    composite: ClassVar[bool] = True
    required_lists: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _lists_not_empty(self) -> Composite:
        for key in self.required_lists:
            value = getattr(self, key)
            if not value or any(isinstance(item, tuple) and not item for item in value):
                raise ValueError(f"{key} needs at least one layer; received an empty list")
        return self

    def children_rows(
        self, in_shape: Shape, rf: RF, path: SpecPath, depth: int
    ) -> tuple[list[LayerReport], Shape, RF]:
        """The children's rows (any depth), and this layer's output shape and field."""
        raise NotImplementedError

    def report(
        self, in_shape: Shape, rf: RF, *, index: int, name: str, path: SpecPath, depth: int
    ) -> list[LayerReport]:
        children, out_shape, out_rf = self.children_rows(in_shape, rf, path, depth + 1)
        direct = [row for row in children if row.depth == depth + 1]
        trainable = sum(row.trainable_params for row in direct)
        frozen = sum(row.non_trainable_params for row in direct)
        if not self.trainable:
            trainable, frozen = 0, trainable + frozen
        row = LayerReport(
            index=index,
            path=format_path(path),
            name=name,
            kind=self.kind,
            in_shape=in_shape,
            out_shape=out_shape,
            trainable_params=trainable,
            non_trainable_params=frozen,
            buffers=sum(row.buffers for row in direct),
            macs=sum(row.macs for row in direct),
            rf=out_rf,
            depth=depth,
            layer=self,
            in_rf=rf,
        )
        return [row, *children]

    def _row(self, in_shape: Shape, rf: RF = ()) -> LayerReport:
        return self.report(in_shape, rf, index=0, name="", path=(), depth=0)[0]

    def output_shape(self, in_shape: Shape) -> Shape:
        return self._row(in_shape).out_shape

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        return self._row(in_shape, rf).rf

    def parameters(self, in_shape: Shape) -> ParamCount:
        row = self._row(in_shape)
        return ParamCount(row.trainable_params, row.non_trainable_params)

    def parameter_count(self, in_shape: Shape) -> int:
        return self._row(in_shape).params

    def buffer_count(self, in_shape: Shape) -> int:
        return self._row(in_shape).buffers

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        return self._row(in_shape).macs

    def spec_args(self) -> dict[str, Any]:
        """Nested layers are written back as spec entries, not as model dumps."""
        from ..spec import layer_entry

        args = super().spec_args()
        for key in args:
            value = getattr(self, key)
            if _is_layer_list(value):
                args[key] = [layer_entry(layer) for layer in value]
            elif isinstance(value, tuple) and value and all(_is_layer_list(v) for v in value):
                args[key] = [[layer_entry(layer) for layer in branch] for branch in value]
        return args


def _is_layer_list(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(item, Layer) for item in value)


def module_count(layer: Layer) -> int:
    """How many modules ``layer`` builds into, nested ones included, ``Repeat`` copies counted."""
    if not isinstance(layer, Composite):
        return 1
    inner = 0
    for key in type(layer).model_fields:
        value = getattr(layer, key)
        if _is_layer_list(value):  # body, layers, post, a shortcut's layers
            inner += sum(module_count(item) for item in value)
        elif isinstance(value, tuple) and all(_is_layer_list(v) for v in value):  # branches
            inner += sum(module_count(item) for branch in value for item in branch)
    return layer.times * inner if isinstance(layer, Repeat) else 1 + inner


def walk_field(
    layers: Sequence[Layer], field: SpecPath, in_shape: Shape, rf: RF, path: SpecPath, depth: int
) -> tuple[list[LayerReport], Shape, RF]:
    """``walk`` over one of this layer's lists; errors gain the field's path."""
    try:
        return walk(layers, in_shape, rf, (*path, *field), depth)
    except NetspecError as error:
        raise error.within(field) from None


def merge_fields(fields: list[tuple[str, RF]], kind: str) -> RF:
    """Receptive field where paths meet (add, concat): the widest window per axis.

    The paths must agree on the jump and on the centre of the first unit, else the merged
    units would mix misaligned windows: that is an error naming the misaligned path.
    """
    (first_name, first), *others = fields
    merged = list(first)
    for name, rf in others:
        if len(rf) != len(first):
            continue
        for axis, (a, b) in enumerate(zip(merged, rf, strict=True)):
            if not (a.positional and b.positional):
                continue
            if a.jump != b.jump or a.start != b.start:
                raise fail(
                    f"{kind} merges misaligned receptive fields on spatial axis {axis}: "
                    f"{first_name} has jump {a.jump} and centre {a.start}, {name} has jump "
                    f"{b.jump} and centre {b.start}; match their strides and paddings",
                )
            merged[axis] = AxisRF(max(a.size, b.size), a.jump, a.start)
    return tuple(merged)


@register
class Sequential(Composite):
    """A named group of layers, built as ``nn.Sequential``: ``features``, ``layer1``...

    Shape / receptive field: those of its layers in order.
    Example::

        - Sequential:
            name: layer1
            layers: [BasicBlock, BasicBlock]
    """

    kind = "Sequential"
    required_lists = ("layers",)
    layers: tuple[AnyLayer, ...] = Field(description="The layers, in order.")

    def children_rows(
        self, in_shape: Shape, rf: RF, path: SpecPath, depth: int
    ) -> tuple[list[LayerReport], Shape, RF]:
        return walk_field(self.layers, ("layers",), in_shape, rf, path, depth)

    def chain(self) -> tuple[Layer, ...]:
        return tuple(layer for _, layer in expanded(self.layers))

    def to_torch(self, in_shape: Shape, *, device: Any = None, dtype: Any = None) -> Any:
        from torch import nn

        from ..build import build_layers

        module = nn.Sequential(build_layers(self.layers, in_shape, device=device, dtype=dtype))
        return module if self.trainable else module.requires_grad_(False)


@register
class Repeat(Composite):
    """``times`` copies of ``layers``, each with its own parameters, spliced into the list.

    ``Repeat`` adds no module of its own: the copies take their places in the enclosing list,
    so a stage of six blocks is named ``0`` to ``5`` as in torchvision.
    Example::

        - Repeat: {times: 3, layers: [{Conv2d: {out_channels: 64, kernel_size: 3, padding: 1}}]}
    """

    kind = "Repeat"
    required_lists = ("layers",)
    times: NonNegativeInt = Field(
        le=MAX_REPEAT, description="How many copies (0 leaves the list without them)."
    )
    layers: tuple[AnyLayer, ...] = Field(description="The layers to repeat.")

    @model_validator(mode="after")
    def _no_module_of_its_own(self) -> Repeat:
        if self.name is not None:
            raise ValueError(
                "Repeat adds no module of its own, so it takes no name; name the layers it "
                "repeats (once per list) or wrap it in a Sequential"
            )
        count = module_count(self)
        if count > MAX_REPEATED_MODULES:
            raise ValueError(
                f"Repeat expands to {count:,} modules (nested repeats multiply); "
                f"the limit is {MAX_REPEATED_MODULES:,}"
            )
        return self

    def expand(self) -> list[tuple[SpecPath, Layer]]:
        """The copies; ``trainable: false`` freezes every copy (it has no module to freeze)."""
        return [
            ((self.kind, "layers", index, *suffix),
             leaf if self.trainable else leaf.model_copy(update={"trainable": False}))
            for _ in range(self.times)
            for index, layer in enumerate(self.layers)
            for suffix, leaf in layer.expand()
        ]

    def children_rows(
        self, in_shape: Shape, rf: RF, path: SpecPath, depth: int
    ) -> tuple[list[LayerReport], Shape, RF]:
        """Used only when a Repeat is analysed on its own; in lists it is spliced."""
        return walk([self], in_shape, rf, path, depth)


@lru_cache(maxsize=256)
def _body_strides(body: tuple[Layer, ...], in_shape: Shape) -> tuple[Fraction, ...]:
    """A body's effective stride per axis. Cached: without it, residual blocks nested n deep
    walk the innermost body 2^n times (each block walks its body, then again for the strides).
    """
    fresh = tuple(AxisRF() for _ in range(len(in_shape) - 1))
    return tuple(axis.jump for axis in walk(body, in_shape, fresh, ())[2])


@register
class Residual(Composite):
    """``post(body(x) + shortcut(x))``: the residual block of ResNet.

    ``shortcut``: ``identity``; ``auto`` (identity when the body keeps the shape and has stride
    1, else ResNet's projection: a 1x1 convolution carrying the body's stride, no bias, then
    batch norm); ``if_same`` (identity when the body keeps the shape and has stride 1, else no
    shortcut: MobileNetV2); or a layer list.
    Shape: the body's; the shortcut must produce the same shape.
    Receptive field: the widest of body and shortcut; both must share jump and centre.
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

    def to_torch(self, in_shape: Shape, *, device: Any = None, dtype: Any = None) -> Any:
        from torch import nn

        from ..build import build_layers, known_shape_after
        from ..modules import Residual as ResidualModule

        body_shape = known_shape_after(self.body, in_shape) or walk(self.body, in_shape, (), ())[1]
        shortcut = self.shortcut_layers(in_shape, body_shape)

        def sequential(layers: Sequence[Layer], shape: Shape) -> nn.Sequential:
            return nn.Sequential(build_layers(layers, shape, device=device, dtype=dtype))

        module = ResidualModule(
            body=sequential(self.body, in_shape),
            shortcut=None if shortcut is None else (
                sequential(shortcut, in_shape) if shortcut else nn.Identity()
            ),
            post=sequential(self.post, body_shape) if self.post else None,
        )
        return module if self.trainable else module.requires_grad_(False)


@register
class Parallel(Composite):
    """Branches on the same input, merged by channel concatenation or addition.

    Shape: ``concat``: branch shapes equal except channels, which add up; ``add``: all equal.
    Receptive field: the widest branch; branches must share jump and centre.
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
    merge: Literal["concat", "add"] = Field(
        default="concat", description="concat (channel axis) or add. Default: concat"
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
        return rows, self._merged_shape(shapes), merge_fields(fields, self.kind)

    def _merged_shape(self, shapes: list[Shape]) -> Shape:
        first = shapes[0]
        for index, shape in enumerate(shapes[1:], start=1):
            same = shape == first if self.merge == "add" else (
                len(shape) == len(first) and shape[1:] == first[1:]
            )
            if not same:
                rule = "the same shape" if self.merge == "add" else "the same shape but channels"
                raise fail(
                    f"merge: {self.merge} needs {rule}; branches[0] gives {list(first)}, "
                    f"branches[{index}] gives {list(shape)}",
                    field="branches",
                )
        if self.merge == "add":
            return first
        return (sum(shape[0] for shape in shapes), *first[1:])

    def to_torch(self, in_shape: Shape, *, device: Any = None, dtype: Any = None) -> Any:
        from torch import nn

        from ..build import build_layers
        from ..modules import Parallel as ParallelModule

        module = ParallelModule(
            [
                nn.Sequential(build_layers(branch, in_shape, device=device, dtype=dtype))
                for branch in self.branches
            ],
            merge=self.merge,
        )
        return module if self.trainable else module.requires_grad_(False)
