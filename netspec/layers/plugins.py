"""Kinds of your own: a user's layer kind, registered from Python, never named by a spec.

A plugin kind is a subclass of ``netspec.layers.Layer`` (its pydantic fields, ``output_shape``,
``parameter_count``, ``buffer_count``, and ``torch_name = "package.module:Class"`` for its own
``nn.Module``; ``receptive_field`` and ``macs`` are optional and unknown when absent). It joins
the registry in one of three ways, each running code the user chose, never text from a spec:

- ``netspec.register_kind(cls)`` in Python (also a class decorator);
- an installed package's entry point in the ``netspec.kinds`` group, named after the kind
  (``GatedUnit = "mypkg.kinds:GatedUnit"``), loaded only when a spec names a kind netspec does
  not know, or when every kind is listed (``netspec layers``, the JSON Schema);
- ``netspec --plugin mypkg.kinds COMMAND ...``, which imports a module that registers its kinds.

The torch side imports a ``"package.module:Class"`` only when a registered kind declares it
(``torch_modules``). Anything a plugin's rule raises, other than a ``NetspecError``, becomes a
located ``SpecError`` naming the kind and its module (``plugin_rule``); so does a row it reports
with values that are not counts (``checked_row``). docs/plugins.md walks through an example.
"""

from __future__ import annotations

import importlib
import keyword
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from netspec.core.errors import NetspecError, fail
from netspec.core.shapes import AxisRF
from netspec.layers import registry
from netspec.layers.base import Layer, LayerReport

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "netspec.kinds"
"""The entry-point group an installed package declares its kinds in."""

LayerT = TypeVar("LayerT", bound=type[Layer])


def register_kind(cls: LayerT) -> LayerT:
    """Make the user's layer kind ``cls`` available to specs under ``cls.kind``.

    Registering the same class again does nothing; a name netspec or another class already
    uses, a class that is not a ``Layer``, or a schema pydantic cannot build raises
    ``NetspecError`` and leaves the registry as it was.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise NetspecError(f"a plugin kind is a subclass of netspec.layers.Layer; received {cls!r}")
    kind = cls.__dict__.get("kind")
    where = f"{cls.__module__}.{cls.__qualname__}"
    if not isinstance(kind, str) or not kind.isidentifier() or keyword.iskeyword(kind):
        raise NetspecError(f"plugin kind {where} needs `kind = \"Name\"` of its own (a Python "
                           f"identifier, as specs write it); received {kind!r}")
    if kind in registry.KIND_MODULES:
        raise NetspecError(f"plugin kind {kind!r} ({where}) has the name of one of netspec's "
                           "own kinds; choose another name")
    known = registry.registered_class(kind)
    if known is cls:
        return cls
    if known is not None:
        raise NetspecError(f"plugin kind {kind!r} ({where}) is already registered by "
                           f"{known.__module__}.{known.__qualname__}")
    _check_torch_name(cls, where)
    try:
        cls.model_rebuild(force=True)  # a mistake in the fields shows now, not in a spec
    except Exception as error:
        raise NetspecError(f"plugin kind {kind!r} ({where}): its fields do not make a schema: "
                           f"{type(error).__name__}: {error}") from None
    cls.plugin = cls.__module__
    return registry.register(cls)


def _check_torch_name(cls: type[Layer], where: str) -> None:
    module, colon, attribute = cls.torch_name.partition(":")
    if colon and not (all(part.isidentifier() for part in module.split("."))
                      and attribute.isidentifier()):
        raise NetspecError(f"plugin kind {cls.kind!r} ({where}): torch_name must read "
                           f"'package.module:Class'; received {cls.torch_name!r}")


def torch_modules() -> frozenset[str]:
    """The ``"package.module:Class"`` names that registered kinds declare: the only imports the
    torch side makes for a ``TorchCall``."""
    kinds = registry.registered_plugins()
    return frozenset(cls.torch_name for cls in kinds if ":" in cls.torch_name)


def describe(cls: type[Layer]) -> str:
    """``plugin kind GatedUnit (from mypkg.kinds)``: how errors name a user's kind."""
    return f"plugin kind {cls.kind} (from {cls.plugin})"


@contextmanager
def plugin_rule(layer: Layer | type[Layer], what: str) -> Iterator[None]:
    """Around a call into a kind's rules: an exception from a plugin kind that is not a
    ``NetspecError`` becomes a ``SpecError`` naming the plugin, located by the caller."""
    if not layer.plugin:
        yield
        return
    try:
        yield
    except NetspecError:
        raise
    except Exception as error:
        kind = layer if isinstance(layer, type) else type(layer)
        raise fail(f"{describe(kind)} raised {type(error).__name__} in its {what}: "
                   f"{error}") from None


def checked_row(layer: Layer, row: LayerReport) -> LayerReport:
    """A plugin kind's row with plain values: a shape of positive ints (a list becomes a
    tuple), counts that are non-negative ints, MACs too or None, a field of ``AxisRF``."""
    if not layer.plugin:
        return row
    shape = row.out_shape
    if not (isinstance(shape, tuple | list) and shape and all(_count(n, 1) for n in shape)):
        raise fail(f"{describe(type(layer))} returned the output shape {shape!r}; a shape is a "
                   "non-empty tuple of positive ints, one sample without the batch dimension")
    counts = {"parameter_count": row.params, "buffer_count": row.buffers}
    for rule, value in [*counts.items(), ("macs", row.macs)]:
        if not (_count(value, 0) or (rule == "macs" and value is None)):
            raise fail(f"{describe(type(layer))} returned {value!r} from {rule}; expected an int "
                       ">= 0")
    if not (isinstance(row.rf, tuple) and all(isinstance(a, AxisRF) for a in row.rf)):
        raise fail(f"{describe(type(layer))} returned the receptive field {row.rf!r}; expected a "
                   "tuple of AxisRF, one per spatial axis")
    return replace(row, out_shape=tuple(shape))


def _count(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def entry_point_kind(name: str) -> type[Layer] | None:
    """Load the installed plugin whose ``netspec.kinds`` entry point is named ``name``; its kind,
    or None when no package declares one. A plugin that fails to load raises ``SpecError``."""
    for point in _points():
        if point.name == name:
            _load(point)
            return registry.registered_class(name)
    return None


def load_entry_points() -> dict[str, str]:
    """Load every installed plugin (``netspec layers``, the JSON Schema): entry point name ->
    why it failed, for those that did."""
    broken: dict[str, str] = {}
    for point in _points():
        try:
            _load(point)
        except NetspecError as error:
            broken[point.name] = error.problems[0].message
    return broken


def entry_point_names() -> list[str]:
    """The kind names installed packages declare, without loading them (for suggestions)."""
    return [point.name for point in _points()]


def _points() -> list[EntryPoint]:
    """The installed ``netspec.kinds`` entry points (importlib.metadata is imported here: only a
    spec naming an unknown kind, or a listing of every kind, pays for it)."""
    from importlib.metadata import entry_points

    return list(entry_points(group=GROUP))


def _load(point: EntryPoint) -> None:
    """Import an entry point: a ``Layer`` subclass is registered; a module registers its own."""
    try:
        loaded = point.load()
        if isinstance(loaded, type) and issubclass(loaded, Layer):
            register_kind(loaded)
    except Exception as error:
        message = error.problems[0].message if isinstance(error, NetspecError) else (
            f"{type(error).__name__}: {error}")
        raise fail(f"the plugin kind {point.name!r} (entry point {point.value!r} in {GROUP}) "
                   f"failed to load: {message}") from None


def import_plugin(module: str) -> None:
    """``--plugin mypkg.kinds``: import a module that registers its kinds. Raises
    ``NetspecError`` when it cannot be imported."""
    try:
        importlib.import_module(module)
    except NetspecError:
        raise
    except Exception as error:
        raise NetspecError(f"--plugin {module}: the module could not be imported: "
                           f"{type(error).__name__}: {error}") from None


def blamed(error: BaseException) -> Layer | None:
    """The plugin kind's layer whose method raised ``error`` (the innermost one on the
    traceback), or None when no plugin kind's code is on it."""
    found = None
    trace = error.__traceback__
    while trace is not None:
        owner = trace.tb_frame.f_locals.get("self")
        if isinstance(owner, Layer) and owner.plugin:
            found = owner
        trace = trace.tb_next
    return found


class _EntryPoints(registry.InstalledKinds):
    """Installed plugin kinds, found through the ``netspec.kinds`` entry points."""

    def find(self, name: str) -> type[Layer] | None:
        return entry_point_kind(name)

    def load_all(self) -> object:
        return load_entry_points()

    def names(self) -> list[str]:
        return entry_point_names()


registry.use_installed(_EntryPoints())
