"""From a torch model back to a spec: ``netspec.from_module(model, input_shape)``.

    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), ...)
    spec = netspec.from_module(model, (3, 32, 32))
    print(spec.to_yaml())
    netspec.build(spec).load_state_dict(model.state_dict())   # same names, same shapes

Each module is matched to the kind that builds exactly its class (``module_class`` of its
``torch_name``: torch's ``nn.<Kind>``, ``nn.Sequential``, or netspec's ``Residual``/``Parallel``)
and read back by ``read_arguments``, which takes every argument from the module attribute of the
same name; arguments inferred from the shape are left out. The result is then checked, layer by
layer: each layer is rebuilt (on the meta device) and must give a module with the same class,
attributes, parameter and buffer shapes and children as the original, else ``from_module``
raises ``NetspecError`` naming the module and the difference. Among the arguments that rebuild
the same module the shortest are kept: a default is left out (``stride: [1, 1]``), a per-axis
list of equal values becomes an int where torch stores the same (``kernel_size: 3`` for a
convolution, not for a pool, whose ``kernel_size`` torch keeps as written), and a shortcut that
``auto`` reproduces is ``auto``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Union, get_args, get_origin

import torch
from pydantic import ValidationError
from torch import nn

from netspec.analysis.analysis import analyze
from netspec.core.errors import NetspecError, Problem, SpecError, SpecPath, format_path
from netspec.core.shapes import Shape
from netspec.layers.base import Layer
from netspec.layers.registry import registered_kinds
from netspec.reading.spec import Spec
from netspec.torch_side.build import build_layer, module_class
from netspec.torch_side.signature import difference, signature, tuples

if TYPE_CHECKING:
    # ``layers(field, container, branch)``: the layers of one list of a composite kind.
    Reader = Callable[[str, nn.Module, "int | None"], tuple[Layer, ...]]

__all__ = ["from_module", "read_arguments", "signature"]

_DROP = object()  # a trial value: leave the argument out (its default)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def from_module(
    module: nn.Module, input_shape: Sequence[int], *, name: str | None = None,
    input_dtype: Literal["float", "long"] | None = None,
) -> Spec:
    """The spec of ``module`` (an ``nn.Sequential`` of supported modules) on ``input_shape``.

    ``input_shape`` is one sample's shape without the batch dimension (``(3, 224, 224)``):
    arguments such as ``in_channels`` follow from it and are left out of the spec. Nested
    ``nn.Sequential`` become ``Sequential`` layers; ``netspec.modules.Residual`` and
    ``Parallel`` their kinds. ``build`` of the result gives a model with the same module names
    and parameter shapes, so ``load_state_dict(module.state_dict())`` carries the weights over.
    ``input_dtype``: ``long`` for integer ids; by default long when the first module is an
    ``nn.Embedding``. Raises ``NetspecError`` naming every unsupported module, or a module the
    spec cannot reproduce.
    """
    reader = _Reader()
    reader.check_supported(module)
    children = module if type(module) is nn.Sequential else nn.Sequential(module)
    layers = reader.layers(children, ("layers",), "")
    try:
        dtype = input_dtype or ("long" if layers and layers[0].kind == "Embedding" else "float")
        raw = Spec(name=name, input=tuple(input_shape), input_dtype=dtype, layers=layers)
    except ValidationError as error:
        raise _error(f"cannot make a spec of this model: {error}") from None
    try:
        rows = analyze(raw).layers
    except NetspecError as error:
        raise reader.module_error(error, tuple(input_shape)) from None
    reader.shapes = {row.path: row.in_shape for row in rows}
    spec = Spec(name=name, input=tuple(input_shape), input_dtype=dtype,
                layers=tuple(reader.canonical(layer) for layer in layers))
    analyze(spec)
    return spec


# --- reading arguments: each from the module attribute of the same name ---


def read_arguments(cls: type[Layer], module: nn.Module, layers: Reader) -> dict[str, Any]:
    """Each argument of ``cls`` from the attribute of the same name on ``module``.

    Layer lists are read with ``layers`` (an ``nn.Sequential`` gives its children, an
    ``nn.ModuleList`` one list per branch, and a ``Sequential`` kind's own ``layers`` are the
    module's children); a parameter read for a
    boolean argument (``bias``) is True when present; lists become tuples. Arguments without an
    attribute, and inferred ones, are left out.
    """
    args: dict[str, Any] = {}
    for key, info in cls.model_fields.items():
        if key in cls.netspec_fields or key in cls.inferred:
            continue
        annotation = info.annotation
        kept = getattr(module, "netspec_args", None)  # arguments torch keeps under other names
        if isinstance(kept, dict) and key in kept:
            value = kept[key]
        elif _holds_layers(annotation) and type(module) is nn.Sequential:
            value = module  # its children, even one named like the field (ViT's `layers`)
        elif hasattr(module, key):
            value = getattr(module, key)
        elif _holds_layers(annotation) and isinstance(module, nn.Sequential):
            value = module
        else:
            continue
        if _holds_layers(annotation):
            if value is None:
                continue
            if isinstance(value, nn.ModuleList):
                args[key] = tuple(layers(key, branch, index) for index, branch in enumerate(value))
            else:
                args[key] = layers(key, value, None)
        elif isinstance(value, torch.Tensor) or (value is None and _is_plain_bool(annotation)):
            args[key] = value is not None
        else:
            args[key] = tuples(value)
    return args


def _holds_layers(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, Layer):
        return True
    return any(_holds_layers(arg) for arg in get_args(annotation))


def _is_plain_bool(annotation: Any) -> bool:
    """``bool`` (possibly ``Annotated``), not ``bool | None``."""
    if annotation is bool:
        return True
    args = get_args(annotation)
    return bool(args) and get_origin(annotation) is not None and args[0] is bool and (
        NoneType not in args)


def _literals(annotation: Any) -> list[Any]:
    """The ``Literal`` options an argument accepts (``shortcut``: identity, auto, if_same)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return list(get_args(annotation))
    if origin in (Union, UnionType):
        return [value for arg in get_args(annotation) for value in _literals(arg)]
    return []


# --- the reader ---


@dataclass
class _Origin:
    cls: type[Layer]
    args: dict[str, Any]
    module: nn.Module
    module_path: str
    row_path: SpecPath


class _Reader:
    def __init__(self) -> None:
        self.kinds: dict[type, type[Layer]] = {}
        for cls in registered_kinds().values():
            torch_class = module_class(cls.torch_name or cls.kind)
            if torch_class is not None:
                self.kinds.setdefault(torch_class, cls)
        self.origins: dict[int, _Origin] = {}
        self.spec_paths: dict[SpecPath, str] = {}
        self.shapes: dict[str, Shape] = {}

    # --- supported modules ---

    def check_supported(self, module: nn.Module) -> None:
        unsupported: list[str] = []
        self._visit(module, "", unsupported)
        if unsupported:
            raise _error(
                "cannot turn this model into a spec: unsupported "
                f"module{'s' if len(unsupported) > 1 else ''} {', '.join(unsupported)}. "
                "A spec holds torch.nn modules of the layer kinds (exactly those classes, not "
                "subclasses: `netspec layers` lists them), nn.Sequential, and "
                "netspec.modules.Residual/Parallel"
            )

    def _visit(self, module: nn.Module, path: str, unsupported: list[str]) -> None:
        cls = self.kinds.get(type(module))
        if cls is None:
            bases = [base.__name__ for base in type(module).__mro__[1:] if base in self.kinds]
            subclass = f", a subclass of {bases[0]}" if bases else ""
            unsupported.append(f"{path or '(the model)'} ({type(module).__name__}{subclass})")
            return
        if not any(_holds_layers(info.annotation) for info in cls.model_fields.values()):
            return  # a leaf kind: its module's own children (attention's out_proj) are its own
        for key, child in module.named_children():
            child_path = f"{path}.{key}" if path else key
            if type(child) is nn.ModuleList:
                for index, item in child.named_children():
                    self._visit(item, f"{child_path}.{index}", unsupported)
            else:
                self._visit(child, child_path, unsupported)

    # --- raw reading ---

    def layers(self, container: nn.Module, row_path: SpecPath, module_path: str
               ) -> tuple[Layer, ...]:
        """The layers of a list: an ``nn.Sequential``'s children, or one module."""
        if type(container) is not nn.Sequential:
            return (self.layer(container, (*row_path, 0), module_path, None),)
        layers = []
        for index, (key, child) in enumerate(container.named_children()):
            path = _join(module_path, key)
            if key != str(index) and not IDENTIFIER.match(key):
                raise _error(f"module {path} ({type(child).__name__}): a spec names modules "
                             f"by identifiers (or their position, {index}); rename {key!r}")
            layers.append(self.layer(child, (*row_path, index), path,
                                     None if key == str(index) else key))
        return tuple(layers)

    def layer(self, module: nn.Module, row_path: SpecPath, module_path: str,
              name: str | None) -> Layer:
        cls = self.kinds[type(module)]
        where = f"module {module_path}" if module_path else "the model"

        def read(field: str, container: nn.Module, branch: int | None) -> tuple[Layer, ...]:
            if container is module:  # a Sequential kind's own children
                return self.layers(container, (*row_path, field), module_path)
            if branch is not None:
                return self.layers(container, (*row_path, field, branch),
                                   _join(module_path, f"{field}.{branch}"))
            return self.layers(container, (*row_path, field), _join(module_path, field))

        args = read_arguments(cls, module, read)
        if name is not None:
            args["name"] = name
        frozen = _frozen(module, where)
        if frozen:
            args["trainable"] = False
        try:
            layer = cls.model_validate(args)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or cls.kind}: {e['msg']}"
                for e in error.errors(include_url=False)
            )
            raise _error(f"{where} ({type(module).__name__}) cannot be written as {cls.kind}: "
                         f"{problems}") from None
        self.origins[id(layer)] = _Origin(cls, args, module, module_path, row_path)
        return layer

    def module_error(self, error: NetspecError, input_shape: Shape) -> NetspecError:
        """An analysis error of the read spec, told in terms of the module."""
        problems = []
        for problem in error.problems:
            problems.append(Problem(
                f"{self._where(problem.path)} does not take the input shape "
                f"{list(input_shape)}: {problem.message}", file=_FILE))
        return type(error)(problems)

    def _where(self, spec_path: SpecPath) -> str:
        """``module 3.body.0 (Conv2d)``: the deepest module that a spec path lies in."""
        kinds = registered_kinds()
        row_path = tuple(part for part in spec_path if part not in kinds)
        found: _Origin | None = None
        for origin in self.origins.values():
            if row_path[: len(origin.row_path)] == origin.row_path and (
                    found is None or len(origin.row_path) > len(found.row_path)):
                found = origin
        if found is None:
            return "the model"
        return f"module {found.module_path or '(the model)'} ({type(found.module).__name__})"

    # --- the shortest arguments that rebuild the same module ---

    def canonical(self, layer: Layer) -> Layer:
        origin = self.origins[id(layer)]
        cls, module = origin.cls, origin.module
        args = {key: self._canonical_value(value) for key, value in origin.args.items()}
        in_shape = self.shapes[format_path(origin.row_path)]
        target = signature(module)

        def same(candidate: dict[str, Any]) -> bool:
            try:
                trial = cls.model_validate(candidate)
                trial.output_shape(in_shape)
                built = build_layer(trial, in_shape, device="meta")
            except (ValidationError, NetspecError, ValueError, TypeError, RuntimeError):
                return False
            return signature(built) == target

        if not same(args):
            args = self._resolve(cls, args, same) or self._mismatch(origin, args, in_shape)
        for key in list(args):
            if key in cls.netspec_fields:
                continue
            for candidate in self._simpler(cls, key, args[key]):
                trial = dict(args)
                if candidate is _DROP:
                    del trial[key]
                else:
                    trial[key] = candidate
                if (candidate is _DROP and args[key] == cls.model_fields[key].default) or same(
                        trial):
                    args = trial
                    break
        return cls.model_validate(args)

    def _canonical_value(self, value: Any) -> Any:
        if isinstance(value, tuple) and value and all(isinstance(v, Layer) for v in value):
            return tuple(self.canonical(item) for item in value)
        if isinstance(value, tuple) and value and all(
                isinstance(v, tuple) and v and all(isinstance(x, Layer) for x in v)
                for v in value):
            return tuple(tuple(self.canonical(item) for item in branch) for branch in value)
        return value

    @staticmethod
    def _simpler(cls: type[Layer], key: str, value: Any) -> list[Any]:
        info = cls.model_fields[key]
        options: list[Any] = []
        if not info.is_required():
            options.append(_DROP)
        if isinstance(value, tuple) and value and all(
                type(v) is int and v == value[0] for v in value):
            options.append(value[0])
        options += [literal for literal in _literals(info.annotation) if literal != value]
        return options

    @staticmethod
    def _resolve(cls: type[Layer], args: dict[str, Any],
                 same: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """Arguments torch leaves unreadable (a missing shortcut is ``if_same``'s): try the
        options the kind declares."""
        for key, info in cls.model_fields.items():
            for option in _literals(info.annotation):
                trial = {**args, key: option}
                if same(trial):
                    return trial
        return None

    def _mismatch(self, origin: _Origin, args: dict[str, Any], in_shape: Shape) -> NoReturn:
        where = f"module {origin.module_path}" if origin.module_path else "the model"
        try:
            built = build_layer(origin.cls.model_validate(args), in_shape, device="meta")
            why = difference(signature(origin.module), signature(built))
        except (ValidationError, NetspecError, ValueError, TypeError, RuntimeError) as error:
            why = f"the spec does not build: {error}"
        hint = ""
        if any(f"attribute {key} " in why for key in origin.cls.inferred):
            hint = f" ({', '.join(origin.cls.inferred)} follows from the input shape: is it right?)"
        raise _error(f"{where} ({type(origin.module).__name__}) cannot be written as "
                     f"{origin.cls.kind}: {why}{hint}")


def _frozen(module: nn.Module, where: str) -> bool:
    flags = {p.requires_grad for p in module.parameters()}
    if len(flags) > 1 and not any(True for _ in module.children()):
        raise _error(f"{where} ({type(module).__name__}) is partly frozen (some parameters "
                     "require grad, some not); a spec freezes whole layers (trainable: false)")
    return flags == {False} and not any(True for _ in module.children())


_FILE = "<module>"


def _error(message: str) -> SpecError:
    """Problems of ``from_module`` are located in the model (``<module>: ...``), not a file."""
    return SpecError(Problem(message, file=_FILE))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
