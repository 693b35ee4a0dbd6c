"""The base of every layer kind, the field types they share, and the registry of kinds.

A layer kind is one class: its pydantic fields are torch's argument names; its methods give the
output shape, receptive field, parameter and buffer counts, MACs and the torch arguments it
infers from the incoming shape. Nothing outside ``netspec.layers`` names a kind.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any, ClassVar, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from ..errors import SpecPath, did_you_mean, fail, format_path
from ..report import RF as RF
from ..report import LayerReport
from ..shapes import Shape

StrictInt = Annotated[int, Strict()]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
ModuleName = Annotated[
    str,
    Strict(),
    Field(min_length=1, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
]
# Fields given as an int or a per-axis list, as torch's kernel_size=(4, 5).
PerAxisPositive = PositiveInt | tuple[PositiveInt, ...]
PerAxisNonNegative = NonNegativeInt | tuple[NonNegativeInt, ...]

class ParamCount(NamedTuple):
    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


class Layer(BaseModel):
    """Base of all layer kinds. Subclasses declare torch's arguments as fields.

    Class attributes:
      ``kind``: the name in specs and the ``torch.nn`` class name (``Conv2d``).
      ``inferred``: arguments computed from the incoming shape; a value written in the spec
      is checked against the inferred one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, revalidate_instances="never")

    kind: ClassVar[str] = ""
    inferred: ClassVar[tuple[str, ...]] = ()
    netspec_fields: ClassVar[frozenset[str]] = frozenset({"name", "trainable"})

    name: ModuleName | None = Field(
        default=None, description="Name of this module in the built nn.Sequential."
    )
    trainable: Bool = Field(
        default=True, description="False freezes the layer's parameters (requires_grad=False)."
    )

    @model_validator(mode="before")
    @classmethod
    def _unwrap_entry(cls, data: Any) -> Any:
        """Accept a spec entry as written: ``Conv2d: {...}``, a bare ``ReLU``, or plain args."""
        if isinstance(data, str) and data == cls.kind:
            return {}
        if isinstance(data, dict) and len(data) == 1 and cls.kind in data:
            args = data[cls.kind]
            return {} if args is None else args
        return data

    # --- the rules every kind answers; defaults suit pointwise layers without weights ---

    def infer(self, in_shape: Shape) -> dict[str, Any]:
        """Arguments that follow from ``in_shape`` (``in_channels``...). Default: none."""
        return {}

    def output_shape(self, in_shape: Shape) -> Shape:
        """Shape of one output sample. Default: unchanged."""
        return in_shape

    def receptive_field(self, rf: RF, in_shape: Shape) -> RF:
        """Receptive field after this layer. Default: unchanged (pointwise)."""
        return rf

    def parameters(self, in_shape: Shape) -> ParamCount:
        """Parameter elements, split by whether they are trained."""
        count = self.parameter_count(in_shape)
        return ParamCount(count, 0) if self.trainable else ParamCount(0, count)

    def parameter_count(self, in_shape: Shape) -> int:
        """All parameter elements (weights and biases). Default: none."""
        return 0

    def buffer_count(self, in_shape: Shape) -> int:
        """Buffer elements (running statistics...). Default: none."""
        return 0

    def macs(self, in_shape: Shape, out_shape: Shape) -> int:
        """Multiply-accumulates for one sample, counted as torchinfo counts them.

        torchinfo charges a layer that is not a convolution one MAC per weight and bias element
        per sample, and nothing for a layer without parameters. Convolutions override this.
        """
        return self.parameter_count(in_shape)

    def torch_kwargs(self, in_shape: Shape) -> dict[str, Any]:
        """Keyword arguments for ``torch.nn.<kind>``: the spec's arguments plus inferred ones."""
        kwargs = {
            key: value
            for key, value in self
            if key not in self.netspec_fields and key not in self.inferred
        }
        kwargs.update(self.infer(in_shape))
        return kwargs

    def expand(self) -> list[tuple[SpecPath, Layer]]:
        """The layers this entry stands for in its list, with their paths. ``Repeat`` splices."""
        return [((), self)]

    def report(
        self, in_shape: Shape, rf: RF, *, index: int, name: str, path: SpecPath, depth: int
    ) -> list[LayerReport]:
        """This layer's row (first) and, for composite kinds, the rows of its children."""
        out_shape = self.output_shape(in_shape)
        params = self.parameters(in_shape)
        return [
            LayerReport(
                index=index,
                path=format_path(path),
                name=name,
                kind=self.kind,
                in_shape=in_shape,
                out_shape=out_shape,
                trainable_params=params.trainable,
                non_trainable_params=params.non_trainable,
                buffers=self.buffer_count(in_shape),
                macs=self.macs(in_shape, out_shape),
                rf=self.receptive_field(rf, in_shape),
                depth=depth,
            )
        ]

    def to_torch(self, in_shape: Shape, *, device: Any = None, dtype: Any = None) -> Any:
        """The ``torch.nn`` module for this layer on ``in_shape`` (imports torch when called).

        ``device``/``dtype`` reach constructors that take them (modules with weights), so
        ``device="meta"`` allocates nothing. Composite kinds override this.
        """
        from torch import nn

        cls = getattr(nn, self.kind)
        kwargs = self.torch_kwargs(in_shape)
        if _takes_factory_kwargs(cls):
            kwargs.update(device=device, dtype=dtype)
        module = cls(**kwargs)
        if not self.trainable:
            module.requires_grad_(False)
        return module

    # --- helpers for subclasses ---

    def check_asserted(self, inferred: dict[str, Any], in_shape: Shape) -> dict[str, Any]:
        """Raise when an argument written in the spec disagrees with its inferred value."""
        for key, value in inferred.items():
            written = getattr(self, key, None)
            if written is not None and written != value:
                raise fail(
                    f"{key} follows from the input shape {list(in_shape)} and must be {value}; "
                    f"received {key}={written} (leave it out to have it inferred)",
                    field=key,
                )
        return inferred

    def spec_args(self) -> dict[str, Any]:
        """The arguments that differ from their defaults, as written back to a spec."""
        return self.model_dump(exclude_defaults=True, mode="python")

    @classmethod
    def describe_fields(cls) -> Iterator[tuple[str, str, str, str, bool]]:
        """(name, type, default, description, inferred) per argument, for ``netspec layers``."""
        for key, info in cls.model_fields.items():
            annotation = getattr(info.annotation, "__name__", None) or str(info.annotation)
            default = "required" if info.is_required() else repr(info.default)
            yield key, annotation, default, info.description or "", key in cls.inferred


@cache
def _takes_factory_kwargs(cls: type) -> bool:
    """Modules with weights take ``device=`` and ``dtype=``; argument-less ones do not."""
    return "device" in inspect.signature(cls).parameters


LayerT = TypeVar("LayerT", bound=type[Layer])
_KINDS: dict[str, type[Layer]] = {}


def register(cls: LayerT) -> LayerT:
    """Class decorator: make a layer kind available to specs under ``cls.kind``."""
    if not cls.kind or cls.kind in _KINDS:
        raise RuntimeError(f"layer kind {cls.kind!r} is empty or registered twice")
    _KINDS[cls.kind] = cls
    return cls


def registered_kinds() -> dict[str, type[Layer]]:
    """Every registered kind by name, in registration order."""
    return dict(_KINDS)


def kind_of(name: str) -> type[Layer]:
    """The class for a kind name, or a ``SpecError`` with a did-you-mean."""
    if name in _KINDS:
        return _KINDS[name]
    guess = did_you_mean(name, _KINDS)
    hint = f"; did you mean {guess}?" if guess else "; `netspec layers` lists the kinds"
    raise fail(f"unknown layer kind {name!r}{hint}")


LAYOUTS = {1: "[C]", 2: "[C, L]", 3: "[C, H, W]", 4: "[C, D, H, W]"}
"""How one sample is laid out, by number of dims (for error messages)."""


def spatial_layout(rank: int) -> str:
    """The sample layout of a layer with ``rank`` spatial axes: ``[C, H, W]`` for rank 2."""
    return LAYOUTS[rank + 1]


def expect_rank(layer: Layer, in_shape: Shape, dims: int, layout: str) -> None:
    """Reject an input sample whose number of dimensions is not ``dims``."""
    if len(in_shape) != dims:
        raise fail(
            f"{layer.kind} expects one sample shaped {layout} ({dims} dims); "
            f"received {list(in_shape)}"
        )


def per_axis(value: int | tuple[int, ...], rank: int) -> tuple[int, ...]:
    """An int or per-axis tuple as exactly ``rank`` values (lengths are checked by the schema)."""
    return (value,) * rank if isinstance(value, int) else tuple(value)


def check_axis_count(value: Any, rank: int) -> Any:
    """Field validator body: a per-axis tuple must have one value per spatial axis."""
    if isinstance(value, tuple) and len(value) != rank:
        raise ValueError(f"needs 1 or {rank} values (one per spatial axis); received {list(value)}")
    return value
