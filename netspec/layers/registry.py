"""The registry of layer kinds: the one place that lists them, by name, with the module of each.

A kind's module is imported when a spec first names the kind (``kind_of``), so ``import netspec``
and ``netspec check`` pay only for the kinds a spec uses, however many kinds netspec ships.
``registered_kinds`` imports them all (``netspec layers``, the JSON Schema, ``from_module``).
A user's own kind joins with ``netspec.register_kind`` (``netspec.layers.plugins``): it has no
entry below; an installed plugin's entry point is loaded when a spec names its kind.
"""

from __future__ import annotations

import importlib
from difflib import SequenceMatcher
from functools import cache
from typing import Annotated, Any, TypeVar, Union

from pydantic import Discriminator, PlainValidator, SerializeAsAny, Tag, TypeAdapter

from netspec.core.errors import NetspecError, did_you_mean, fail
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


class InstalledKinds:
    """How the registry reaches kinds that installed packages declare (entry points): none
    until ``netspec.layers.plugins`` installs its finder (``use_installed``), so this module
    imports no plugin machinery."""

    def find(self, name: str) -> type[Layer] | None:
        """Load the installed kind ``name``; None when no package declares it."""
        return None

    def load_all(self) -> object:
        """Load every installed kind."""
        return None

    def names(self) -> list[str]:
        """The installed kinds' names, without loading them."""
        return []


_installed = InstalledKinds()


def use_installed(finder: InstalledKinds) -> None:
    """Install the finder of installed plugin kinds (``netspec.layers.plugins`` does)."""
    global _installed
    _installed = finder


def _make(name: str) -> None:
    """Import the module of netspec's kind ``name`` and ask it for the class: a class statement
    registered itself on import, a leaf (``netspec.layers.leaves``) is made when asked for."""
    getattr(importlib.import_module(KIND_MODULES[name]), name)


def _loaded(name: str) -> type[Layer] | None:
    """The class of kind ``name``, importing its module on first use (netspec's, or an installed
    plugin's entry point); None when unknown."""
    if name not in _KINDS and name in KIND_MODULES:
        _make(name)
    if name not in _KINDS:
        return _installed.find(name)
    return _KINDS.get(name)


def registered_class(name: str) -> type[Layer] | None:
    """The class registered under ``name``, importing nothing."""
    return _KINDS.get(name)


def registered_plugins() -> list[type[Layer]]:
    """The users' kinds registered so far (``netspec.register_kind``), importing nothing."""
    return [cls for kind, cls in _KINDS.items() if kind not in KIND_MODULES]


def registered_kinds() -> dict[str, type[Layer]]:
    """Every kind by name: netspec's in the registry's order, then users' in theirs (installed
    plugins are loaded; one that fails to load is left out, and naming it in a spec says why)."""
    for kind in KIND_MODULES:
        _make(kind)
    _installed.load_all()
    ours = {kind: _KINDS[kind] for kind in KIND_MODULES}
    return ours | {kind: cls for kind, cls in _KINDS.items() if kind not in ours}


def forget(name: str) -> None:
    """Unregister a user's kind (tests, notebooks that redefine a class); netspec's stay."""
    if name not in KIND_MODULES and _KINDS.pop(name, None) is not None:
        _entry_adapter.cache_clear()


def is_kind(name: str) -> bool:
    """Whether ``name`` is a layer kind (netspec's or a registered one); imports nothing."""
    return name in KIND_MODULES or name in _KINDS


def kind_names() -> list[str]:
    """Every kind name, without importing any kind's module (for suggestions)."""
    users = [kind for kind in _KINDS if kind not in KIND_MODULES]
    return list(dict.fromkeys([*KIND_MODULES, *users, *_installed.names()]))


def kind_of(name: str) -> type[Layer]:
    """The class for a kind name, or a ``SpecError`` with a did-you-mean (and, for a name that
    is no near miss, how a kind of one's own is registered)."""
    cls = _loaded(name)
    if cls is not None:
        return cls
    guess = did_you_mean(name, kind_names())
    own = ("A kind of your own is registered from Python, never from a spec: "
           "netspec.register_kind(cls), an installed package's `netspec.kinds` entry point, or "
           "`netspec --plugin MODULE` (docs/plugins.md)")
    if guess is None:
        hint = f"; `netspec layers` lists the kinds. {own}"
    elif SequenceMatcher(None, name.lower(), guess.lower()).ratio() >= TYPO_RATIO:
        hint = f"; did you mean {guess}?"  # a typo of a kind: no word about plugins
    else:
        hint = f"; did you mean {guess}? {own}"
    raise fail(f"unknown layer kind {name!r}{hint}")


TYPO_RATIO = 0.8
"""How alike a name and the nearest kind must be (difflib's ratio) to be read as a typo of it
(``Convv2d``: 0.92) rather than a kind of the user's own (``GatedUnit`` beside ``Gate``: 0.62)."""


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
    try:  # pydantic wants ValueError: the message of kind_of's SpecError (or a plugin's)
        kind_of(str(kind))
    except NetspecError as error:
        raise ValueError(error.problems[0].message) from None
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


