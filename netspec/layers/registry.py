"""The registry of layer kinds: the one place that lists them, by name, with the module of each.

A kind's module is imported when a spec first names the kind (``kind_of``), so ``import netspec``
and ``netspec check`` pay only for the kinds a spec uses, however many kinds netspec ships.
``registered_kinds`` imports them all (``netspec layers``, the JSON Schema, ``from_module``).
A user's own kind joins with ``register`` (``netspec.register_kind``): it has no entry below.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Annotated, Any, TypeVar, Union

from pydantic import Discriminator, PlainValidator, SerializeAsAny, Tag, TypeAdapter

from netspec.core.errors import did_you_mean, fail
from netspec.layers.base import Layer

_FAMILIES: dict[str, tuple[str, ...]] = {
    "activation": ("ReLU", "ReLU6", "LeakyReLU", "ELU", "SiLU", "Mish", "Hardswish",
                   "Hardsigmoid", "Sigmoid", "Tanh", "Identity", "GELU", "PReLU", "Softmax",
                   "LogSoftmax"),
    "composite": ("Sequential", "Repeat"),
    "branches": ("Residual", "Parallel"),
    "conv": ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
             "ConvTranspose3d"),
    "dropout": ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"),
    "linear": ("Linear",),
    "norm_batch": ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d",
                   "InstanceNorm2d", "InstanceNorm3d"),
    "norm": ("GroupNorm", "LayerNorm", "LocalResponseNorm"),
    "pool": ("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d"),
    "pool_adaptive": ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
                      "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"),
    "reshape": ("Flatten", "Unflatten"),
    "upsample": ("Upsample",),
    "gating": ("Gate",),
    "layout": ("Permute", "ChannelShuffle"),
    "split": ("Chunk", "Narrow"),
    "scaling": ("LayerScale", "StochasticDepth"),
    "tokens": ("ClassToken", "PositionEmbedding", "SelectToken", "TokenMean", "Embedding"),
    "attention": ("MultiheadAttention", "TransformerEncoderLayer"),
    "windows": ("ShiftedWindowAttention", "PatchMerging"),
    "partition": ("Partition", "RelativePositionalMultiHeadAttention"),
}
"""Each module of ``netspec.layers`` and the kinds it defines, in the order ``netspec layers``
lists them."""

KIND_MODULES: dict[str, str] = {
    kind: f"netspec.layers.{module}" for module, kinds in _FAMILIES.items() for kind in kinds
}
"""Kind name -> the module that defines it."""

LayerT = TypeVar("LayerT", bound=type[Layer])
_KINDS: dict[str, type[Layer]] = {}


def register(cls: LayerT) -> LayerT:
    """Class decorator: make a layer kind available to specs under ``cls.kind``."""
    if not cls.kind or cls.kind in _KINDS:
        raise RuntimeError(f"layer kind {cls.kind!r} is empty or registered twice")
    _KINDS[cls.kind] = cls
    return cls


def _loaded(name: str) -> type[Layer] | None:
    """The class of kind ``name``, importing its module on first use; None when unknown."""
    if name not in _KINDS and name in KIND_MODULES:
        importlib.import_module(KIND_MODULES[name])
    return _KINDS.get(name)


def registered_kinds() -> dict[str, type[Layer]]:
    """Every kind by name: netspec's in the registry's order, then users' in theirs."""
    for module in dict.fromkeys(KIND_MODULES.values()):
        importlib.import_module(module)
    ours = {kind: _KINDS[kind] for kind in KIND_MODULES}
    return ours | {kind: cls for kind, cls in _KINDS.items() if kind not in ours}


def is_kind(name: str) -> bool:
    """Whether ``name`` is a layer kind (netspec's or a registered one); imports nothing."""
    return name in KIND_MODULES or name in _KINDS


def kind_names() -> list[str]:
    """Every kind name, without importing any kind's module (for suggestions)."""
    return [*KIND_MODULES, *(kind for kind in _KINDS if kind not in KIND_MODULES)]


def kind_of(name: str) -> type[Layer]:
    """The class for a kind name, or a ``SpecError`` with a did-you-mean."""
    cls = _loaded(name)
    if cls is not None:
        return cls
    guess = did_you_mean(name, kind_names())
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
    if _loaded(str(kind)) is None:  # pydantic wants ValueError: the message of kind_of's SpecError
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


