"""Composite kinds: named groups, residual blocks, parallel branches, and repeats.

Each holds layer lists of its own and is analysed by walking them with the same ``walk`` as the
top level, so shapes, parameters, MACs and receptive fields flow through any nesting. Each builds
into a small module of ``netspec.modules`` (or a plain ``nn.Sequential``) inside the top-level
``nn.Sequential``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, model_validator

from netspec.core.errors import NetspecError, SpecPath, format_path
from netspec.core.shapes import Shape
from netspec.layers.base import (
    RF,
    Layer,
    LayerReport,
    Nested,
    ParamCount,
    ShapeAfter,
    TorchCall,
    sum_macs,
)
from netspec.layers.fields import NonNegativeInt
from netspec.layers.registry import AnyLayer, register
from netspec.layers.walk import expanded, walk

__all__ = ["Repeat", "Sequential"]

MAX_REPEAT = 1000
MAX_REPEATED_MODULES = 10_000  # nested Repeats multiply: 1000 x 1000 would be a million layers


class Composite(Layer):
    """A layer made of layer lists. Its row sums its children's rows; they follow it, nested."""

    composite: ClassVar[bool] = True
    required_lists: ClassVar[tuple[str, ...]] = ()
    beside_input: ClassVar[frozenset[str]] = frozenset()
    """Lists drawn beside an identity path from the input, meeting it where they merge
    (``Gate``'s ``layers``); ``body``, ``shortcut`` and ``branches`` are drawn side by side
    anyway."""

    def merge_label(self) -> str | None:
        """How the drawing labels the point where the paths meet (``+``, ``x``, ``concat``);
        None: ``+`` when the paths' shapes agree, else ``concat``."""
        return None

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
            macs=sum_macs(direct),
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

    def macs(self, in_shape: Shape, out_shape: Shape) -> int | None:
        return self._row(in_shape).macs

    def spec_args(self) -> dict[str, Any]:
        """Nested layers are written back as spec entries, not as model dumps."""
        args = super().spec_args()
        for key in args:
            value = getattr(self, key)
            if _is_layer_list(value):
                args[key] = [layer.entry() for layer in value]
            elif isinstance(value, tuple) and value and all(_is_layer_list(v) for v in value):
                args[key] = [[layer.entry() for layer in branch] for branch in value]
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

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        return TorchCall("Sequential", sequence=Nested(self.layers, in_shape))


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
