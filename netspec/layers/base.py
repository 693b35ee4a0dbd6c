"""The base of every layer kind, the field types they share, and the registry of kinds.

A layer kind is one class: its pydantic fields are torch's argument names; its methods give the
output shape, receptive field, parameter and buffer counts, MACs and the torch arguments it
infers from the incoming shape. Nothing outside ``netspec.layers`` names a kind.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any, ClassVar, NamedTuple, TypeVar, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    SerializeAsAny,
    Strict,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from ..errors import SpecPath, did_you_mean, fail, format_path
from ..lint_codes import check_codes
from ..report import RF as RF
from ..report import LayerReport
from ..shapes import Shape
from ..window import Window, size_lines, window_field_lines

MAX_INT = 2**48
"""No size, count, step or dim in a spec goes past this (torch's own limit is int64, and no tensor
netspec accepts holds more values: ``netspec.limits.MAX_VALUES``)."""


def _at_most_max_int(value: int) -> int:
    """A validator, not ``le=``: a field's own ``le=`` (``Repeat.times``) must stay in force."""
    if abs(value) > MAX_INT:
        shown = f"{value:,}" if abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit number"
        raise ValueError(f"Input should be at most 2^48 = {MAX_INT:,}; received {shown}")
    return value


StrictInt = Annotated[int, Strict(), AfterValidator(_at_most_max_int)]
PositiveInt = Annotated[int, Strict(), Field(gt=0), AfterValidator(_at_most_max_int)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0), AfterValidator(_at_most_max_int)]
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

    # Every schema is built on first use: a kind's when a spec first names it (``AnyLayer``),
    # abstract bases (this one, ConvNd, _WindowPoolNd...) never.
    model_config = ConfigDict(
        extra="forbid", frozen=True, revalidate_instances="never", defer_build=True
    )

    kind: ClassVar[str] = ""
    inferred: ClassVar[tuple[str, ...]] = ()
    netspec_fields: ClassVar[frozenset[str]] = frozenset({"name", "trainable", "lint_ignore"})
    # What the lints ask of a kind (netspec.lints never names one); overridden by the kinds.
    is_activation: ClassVar[bool] = False
    """An elementwise nonlinearity (ReLU, GELU...)."""
    is_dropout: ClassVar[bool] = False
    """Drops values at random in training only."""
    is_normalization: ClassVar[bool] = False
    """Normalises activations with statistics (batch, instance, group, layer norm)."""

    name: ModuleName | None = Field(
        default=None, description="Name of this module in the built nn.Sequential."
    )
    trainable: Bool = Field(
        default=True, description="False freezes the layer's parameters (requires_grad=False)."
    )
    lint_ignore: tuple[Annotated[str, Strict()], ...] = Field(
        default=(), description="Lint codes silenced for this layer and the layers inside it "
        "(NS103...; docs/lints.md)."
    )

    @field_validator("lint_ignore")
    @classmethod
    def _known_lint_codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        return check_codes(codes)

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
                layer=self,
                in_rf=rf,
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

    @classmethod
    def torch_class(cls) -> Any:
        """The module class this kind builds (``nn.<kind>``, or ``netspec.modules.<kind>``);
        ``netspec.from_module`` reads modules of exactly this class as this kind. None: none."""
        from torch import nn

        from .. import modules

        return getattr(modules, cls.kind, None) or getattr(nn, cls.kind, None)

    @classmethod
    def from_torch(cls, module: Any, layers: Any) -> dict[str, Any]:
        """This kind's spec arguments read back from a built ``module`` (``from_module``).

        Default: each argument from the module attribute of the same name (``layers`` reads
        layer lists). Override when torch stores an argument under another name or form.
        """
        from ..roundtrip import read_arguments

        return read_arguments(cls, module, layers)

    # --- what lints, explanations and the input-size search ask; defaults suit pointwise ---

    def windows(self, in_shape: Shape) -> tuple[Window, ...]:
        """The sliding window along each spatial axis (convolutions, pools). Default: none."""
        return ()

    def dropped(self, in_shape: Shape) -> tuple[int, ...]:
        """Input rows per spatial axis that the floor division leaves unread (``Window``)."""
        return tuple(window.dropped for window in self.windows(in_shape))

    def channel_bias(self, in_shape: Shape) -> int:
        """Bias elements that add one constant per channel (dim 0 of a sample). Default: 0."""
        return 0

    def cancels_channel_bias(self, in_shape: Shape) -> bool:
        """True when this layer subtracts a per-channel mean, cancelling a bias before it."""
        return False

    def uses_running_stats(self) -> bool:
        """True when evaluation uses statistics gathered in training (BatchNorm)."""
        return False

    def chain(self) -> tuple[Layer, ...] | None:
        """The layers this one applies in order, when it is nothing more (a ``Sequential``)."""
        return None

    def explain(self, in_shape: Shape, rf: RF) -> list[str]:
        """The arithmetic of this layer with the numbers substituted, one formula a line:
        ``H_out = floor((28 + 2*2 - 1*(5-1) - 1)/1) + 1 = 28``, ``params = 6*(1*5*5) + 6 =
        156``, ``RF = 1 + (5-1)*1 = 5, jump = 1``. Empty for a layer that changes nothing."""
        out_shape = self.output_shape(in_shape)
        return [
            *self.explain_shape(in_shape, out_shape),
            *self.explain_counts(in_shape, out_shape),
            *self.explain_field(rf, in_shape),
        ]

    def explain_shape(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """Output size lines. Default: the windows' ``floor(...)`` formulas."""
        return size_lines(self.windows(in_shape))

    def explain_counts(self, in_shape: Shape, out_shape: Shape) -> list[str]:
        """``params = ...``, ``MACs = ...``, ``buffers = ...`` lines. Default: none."""
        return []

    def explain_field(self, rf: RF, in_shape: Shape) -> list[str]:
        """Receptive-field lines. Default: the windows' ``RF = r + (k-1)*j`` formulas."""
        return window_field_lines(self.windows(in_shape), rf)

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


def _entry_kind(value: Any) -> str | None:
    """Which kind a spec entry names: ``ReLU``, ``{Conv2d: {...}}`` or an instance."""
    if isinstance(value, Layer):
        return value.kind
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if isinstance(key, str) else None
    return None


def _check_entry(value: Any) -> str:
    """The kind a well-formed entry names; a ``ValueError`` that shows the accepted forms."""
    if isinstance(value, dict):
        if len(value) != 1:
            keys = ", ".join(repr(key) for key in value) or "nothing"
            raise ValueError(
                "a layer is a bare kind name or a one-key mapping `Kind: {args}`; received a "
                f"mapping with keys {keys} (indent the arguments under the kind)"
            )
        kind, args = next(iter(value.items()))
        if args is not None and not isinstance(args, dict):
            raise ValueError(
                f"the arguments of {kind} must be a mapping such as `{kind}: {{...}}`; "
                f"received {args!r}"
            )
    elif not isinstance(value, str):
        raise ValueError(
            f"a layer is a bare kind name or a one-key mapping `Kind: {{args}}`; received {value!r}"
        )
    else:
        kind = value
    if str(kind) not in _KINDS:  # pydantic wants ValueError: the message of kind_of's SpecError
        try:
            kind_of(str(kind))
        except Exception as error:
            raise ValueError(str(error.args[0]).split(": ", 1)[-1]) from None
    return str(kind)


@cache
def _entry_adapter(kind: str) -> TypeAdapter[Layer]:
    """Validates an entry of one kind: a tagged union of that one member, so that pydantic puts
    the kind into each error's location (``layers[3].Conv2d.kernel_size``). Built when a spec
    first names the kind: importing netspec builds no schema, and a spec pays for its kinds."""
    _KINDS[kind].model_rebuild()  # the class's own schema first: its instances dump themselves
    members = tuple(Annotated[cls, Tag(kind)] for cls in (_KINDS[kind],))
    entry: Any = Annotated[Union[members], Discriminator(_entry_kind)]  # noqa: UP007
    return TypeAdapter(entry)


def validate_entry(value: Any) -> Layer:
    """A spec entry (bare name, ``Kind: {args}``, or an instance) as its kind's instance."""
    if isinstance(value, Layer):
        return value
    return _entry_adapter(_check_entry(value)).validate_python(value)


AnyLayer = Annotated[SerializeAsAny[Layer], PlainValidator(validate_entry)]
"""A spec entry of any registered kind; composite kinds and ``Spec`` hold lists of them."""


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
