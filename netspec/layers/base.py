"""The base of every layer kind: what a kind answers about itself, and the row it reports.

A layer kind is one class: its pydantic fields are torch's argument names; its methods give the
output shape, receptive field, parameter and buffer counts, MACs, the arguments it infers from
the incoming shape, and a description of the torch module it builds (``TorchCall``), which the
torch side (``netspec.torch_side.build``) turns into a module. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from netspec.core.errors import SpecPath, fail, format_path
from netspec.core.lint_codes import check_codes
from netspec.core.shapes import AxisRF, Shape, rf_to_dicts
from netspec.core.window import Window, size_lines, window_field_lines
from netspec.layers.fields import Bool, ModuleName

RF = tuple[AxisRF, ...]


@dataclass(frozen=True)
class LayerReport:
    """What one layer does to one input sample."""

    index: int
    path: str
    name: str
    kind: str
    in_shape: Shape
    out_shape: Shape
    trainable_params: int
    non_trainable_params: int
    buffers: int
    macs: int | None
    """None when the kind does not count them (a plugin kind without ``macs``)."""
    rf: RF
    depth: int = 0
    layer: Layer | None = field(default=None, compare=False, repr=False)
    """The layer this row describes (what lints and explanations ask), or None."""
    in_rf: RF = field(default=(), compare=False, repr=False)
    """The receptive field of this layer's input."""

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "path": self.path,
            "name": self.name,
            "kind": self.kind,
            "depth": self.depth,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
            "params": self.params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "buffers": self.buffers,
            "macs": self.macs,
            "receptive_field": rf_to_dicts(self.rf),
        }


def unknown_field(rf: RF) -> RF:
    """The receptive field after a layer that does not say: every axis unknown from here on."""
    return tuple(AxisRF.unknown() for _ in rf)


def sum_macs(rows: Iterable[LayerReport]) -> int | None:
    """The rows' MACs added up; None (unknown) when any row's MACs are unknown."""
    total = 0
    for row in rows:
        if row.macs is None:
            return None
        total += row.macs
    return total



ShapeAfter = Callable[[Sequence["Layer"], Shape], Shape]
"""A layer list's output shape on an input shape (the walk's, or the builder's cached one)."""


@dataclass(frozen=True)
class Nested:
    """A layer list inside a composite, with its input shape: built as an ``nn.Sequential``."""

    layers: tuple[Layer, ...]
    in_shape: Shape


@dataclass(frozen=True)
class TorchCall:
    """A torch module described without torch: the class, by name, and its arguments.

    ``module`` names a class of ``netspec.torch_side.modules`` or of ``torch.nn``. An argument
    may be a ``Nested`` layer list, a ``TorchCall``, a list of either, or a plain value. When
    ``sequence`` is set, the module is that layer list itself (``nn.Sequential``).
    """

    module: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    sequence: Nested | None = None


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
    torch_name: ClassVar[str] = ""
    """The module class built (``torch.nn`` or ``netspec.torch_side.modules``); empty: ``kind``.
    A plugin kind names its own class as ``"package.module:Class"``: the torch side imports it
    because a registered kind declares it (never from a spec's text)."""
    inferred: ClassVar[tuple[str, ...]] = ()
    netspec_fields: ClassVar[frozenset[str]] = frozenset({"name", "trainable", "lint_ignore"})
    # What the lints ask of a kind (netspec.lints never names one); overridden by the kinds.
    is_activation: ClassVar[bool] = False
    """An elementwise nonlinearity (ReLU, GELU...)."""
    is_dropout: ClassVar[bool] = False
    """Drops values at random in training only."""
    is_normalization: ClassVar[bool] = False
    """Normalises activations with statistics (batch, instance, group, layer norm)."""
    drops_branch: ClassVar[bool] = False
    """Zeroes whole samples at random in training: meant for the end of a residual branch."""
    composite: ClassVar[bool] = False
    """Holds layer lists of its own (``netspec.layers.composite``); its row sums theirs."""
    plugin: ClassVar[str] = ""
    """The module of a user's kind registered with ``netspec.register_kind``; empty for netspec's.
    A plugin kind that does not define ``receptive_field`` or ``macs`` reports them as unknown,
    and errors inside its rules name it (``netspec.layers.plugins``)."""
    is_fully_connected: ClassVar[bool] = False
    """Maps the last dim of its input, whatever the rank (Linear): after a convolution, without
    Flatten, it maps each row of the feature map separately."""

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

    def buffer_dtypes(self, in_shape: Shape) -> dict[str, int]:
        """Buffer elements by dtype (``{"float32": ...}``). Default: all float32."""
        count = self.buffer_count(in_shape)
        return {"float32": count} if count else {}


    def macs(self, in_shape: Shape, out_shape: Shape) -> int | None:
        """Multiply-accumulates of matrix products for one sample, as the field counts them
        (None: unknown, as for a plugin kind that does not define this).

        Only convolutions (without the bias), linear layers (at every position) and matrix
        products count, as ``torch.utils.flop_counter.FlopCounterMode`` does (its FLOPs / 2) and
        as papers and torchvision publish them; norms, activations, pools and elementwise
        arithmetic count 0. Default: 0; the kinds that multiply matrices override this.
        """
        return 0

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
        says = self.plugin_says
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
                macs=self.macs(in_shape, out_shape) if says("macs") else None,
                rf=self.receptive_field(rf, in_shape) if says("receptive_field") else (
                    unknown_field(rf)),
                depth=depth,
                layer=self,
                in_rf=rf,
            )
        ]

    @classmethod
    def plugin_says(cls, rule: str) -> bool:
        """Whether this kind answers ``rule`` (``macs``, ``receptive_field``): netspec's kinds
        always do; a plugin kind when it (or a kind it extends) defines the method."""
        return not cls.plugin or getattr(cls, rule) is not getattr(Layer, rule)

    def torch_call(self, in_shape: Shape, shape_after: ShapeAfter) -> TorchCall:
        """What the torch side builds for this layer on ``in_shape``: ``torch.nn.<kind>`` with
        the spec's arguments plus the inferred ones. Composite kinds name netspec's modules and
        hand their layer lists over as ``Nested`` (``shape_after`` gives a list's output shape).
        """
        return TorchCall(self.torch_name or self.kind, self.torch_kwargs(in_shape))

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

    def adds_paths(self) -> bool:
        """True when this composite adds one of its paths to another (a residual sum)."""
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


    def entry(self) -> dict[str, Any] | str:
        """This layer as a spec entry: ``ReLU`` bare, else ``{kind: {non-default args}}``."""
        args = {key: _plain(value) for key, value in self.spec_args().items()}
        return {self.kind: args} if args else self.kind


def expect_rank(layer: Layer, in_shape: Shape, dims: int, layout: str) -> None:
    """Reject an input sample whose number of dimensions is not ``dims``."""
    if len(in_shape) != dims:
        raise fail(
            f"{layer.kind} expects one sample shaped {layout} ({dims} dims); "
            f"received {list(in_shape)}"
        )


def _plain(value: Any) -> Any:
    """Tuples become lists so the YAML reads like the hand-written spec."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
