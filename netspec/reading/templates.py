"""Top-level ``params:`` and reusable ``blocks:``, expanded into plain layers before validation.

    params: {width: 64}
    blocks:
      BasicBlock:
        params: {planes: null, stride: 1}     # null: required when the block is used
        layers:
          - Residual:
              body:
                - Conv2d: {out_channels: planes, kernel_size: 3, stride: stride, padding: 1}
              post: [ReLU]
    layers:
      - BasicBlock: {planes: 2 * width, stride: 2, name: block1}

A string value that names a parameter is an expression (``4 * width``) evaluated by
``netspec.expressions`` (no ``eval``); expressions are numeric. A value that is exactly one
parameter's name takes that parameter's value whole, whatever it is: a number, a list
(``kernel_size: k`` with ``k: [1, 7]``), a bool, a string (``padding: same``). A block
used in a list becomes its single layer, or a ``Sequential`` of its layers; ``name:`` at the use
site names it (a block whose one layer is a ``Repeat``, which takes no name, becomes a named
``Sequential`` of the copies). Expanded values keep the
positions of the text they came from, so errors point at the block's definition.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from netspec.core.errors import LimitError, Problem, SpecError, SpecPath, did_you_mean
from netspec.layers.registry import is_kind, kind_names
from netspec.reading.expressions import FUNCTIONS, evaluate, names_in, tokenize
from netspec.reading.yaml_source import MAX_DEPTH, Positions

MAX_BLOCK_DEPTH = 32
MAX_EXPANDED_VALUES = 200_000
_ARITHMETIC = frozenset({"+", "*", "/", "//", "%", "("})
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_IDENTIFIER_START = ("_", *"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

Scope = dict[str, Any]

KEYWORD_VALUES = frozenset({
    "add", "auto", "batch", "bicubic", "bilinear", "circular", "concat", "gelu", "grid",
    "identity", "if_same", "learnable", "linear", "mul", "nearest", "nearest-exact", "none",
    "reflect", "relu", "replicate", "row", "same", "sinusoidal", "tanh", "trilinear", "valid",
    "window", "zeros",
})
"""Every string that some argument of some kind accepts as written (``padding: same``); a test
keeps it equal to the ``Literal`` values of the registered kinds. A parameter of such a name would
turn the keyword into a number."""


def expand_templates(
    data: dict[str, Any], positions: Positions, file: str | None, overrides: Mapping[str, Any],
    holes: list[tuple[SpecPath, Problem]] | None = None,
) -> tuple[dict[str, Any], Positions]:
    """Data without ``params``/``blocks``: every reference evaluated, every block expanded.

    Raises ``SpecError`` at the first mistake; with a ``holes`` list, a value that cannot be
    expanded is left as written and its problem is added there with the value's path in the
    result, so every mistake can be reported at once.
    """
    expander = _Expander(positions, file)
    expander.holes = holes
    params = expander.params(data.get("params"), overrides)
    blocks = expander.blocks(data.get("blocks"))
    expander.definitions = blocks
    result: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("params", "blocks"):
            continue
        result[key] = expander.value(value, (key,), (key,), params, (), in_list=False)
    return result, expander.out


class _Expander:
    def __init__(self, positions: Positions, file: str | None) -> None:
        self.positions = positions
        self.file = file
        self.out: Positions = {(): positions.get(())}
        self.definitions: dict[str, dict[str, Any]] = {}
        self.count = 0
        self.holes: list[tuple[SpecPath, Problem]] | None = None

    def error(self, message: str, at: SpecPath) -> SpecError:
        position = self.positions.get(at)
        line, column = position if position else (None, None)
        return SpecError(Problem(message, at, self.file, line, column))

    # --- params ---

    def params(self, raw: Any, overrides: Mapping[str, Any]) -> Scope:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise self.error(f"params must be a mapping of names to values; received {raw!r}",
                             ("params",))
        for name in overrides:
            if name not in raw:
                guess = did_you_mean(name, raw)
                defined = f"defined: {', '.join(raw)}" if raw else "the spec has no `params:`"
                hint = f"; did you mean {guess}?" if guess else f"; {defined}"
                error = self.error(f"cannot set unknown parameter {name!r}{hint}", ("params",))
                if ("params",) not in self.positions:  # at the document, where it would go
                    position = self.positions.get(())
                    line, column = position if position else (None, None)
                    error = SpecError(replace(error.problems[0], line=line, column=column))
                raise error
        merged = {**raw, **overrides}
        for name in merged:
            self._check_param_name(name, ("params", name))
        scope: Scope = {}
        for name in merged:
            self._resolve_param(name, merged, scope)
        return scope

    def _check_param_name(self, name: Any, at: SpecPath) -> None:
        """A parameter is an identifier that stands for no kind and no keyword value: else
        ``padding: same`` or a bare ``- ReLU`` would silently become its value."""
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            raise self.error(f"parameter names are identifiers; received {name!r}", at)
        if is_kind(name):
            raise self.error(f"parameter {name!r} has the name of a layer kind, which it would "
                             "replace wherever the kind is written; rename it", at)
        if name in KEYWORD_VALUES:
            raise self.error(f"parameter {name!r} has the name of a keyword value (as in "
                             f"`padding: same`), which it would replace; rename it", at)

    def _resolve_param(self, name: str, raw: dict[str, Any], scope: Scope) -> None:
        """Evaluate ``name`` after the parameters it uses, depth first with a stack of our
        own (a chain of 1,000 parameters would exhaust Python's)."""
        pending: list[tuple[str, list[str]]] = [(name, self._uses(raw, name))]
        chain = [name]
        while pending:
            current, uses = pending[-1]
            if not uses:
                pending.pop()
                chain.pop()
                if current not in scope:
                    scope[current] = self.scalar(raw[current], ("params", current), scope)
                continue
            dependency = uses.pop()
            if dependency in scope:
                continue
            if dependency in chain:
                cycle = " -> ".join([*chain[chain.index(dependency):], dependency])
                raise self.error(f"parameters refer to each other in a cycle: {cycle}",
                                 ("params", dependency))
            pending.append((dependency, self._uses(raw, dependency)))
            chain.append(dependency)

    @staticmethod
    def _uses(raw: dict[str, Any], name: str) -> list[str]:
        """The parameters that ``name``'s value refers to, the first last (a stack)."""
        value = raw[name]
        names = names_in(value) if isinstance(value, str) else None
        return sorted(names & raw.keys(), reverse=True) if names else []

    # --- blocks ---

    def blocks(self, raw: Any) -> dict[str, dict[str, Any]]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.error(f"blocks must map block names to definitions; received {raw!r}",
                             ("blocks",))
        for name, definition in raw.items():
            at = ("blocks", name)
            if isinstance(name, str) and is_kind(name):
                raise self.error(f"block {name!r} has the name of a layer kind; rename it", at)
            if not isinstance(name, str) or not name.startswith(_IDENTIFIER_START):
                raise self.error(f"block names are identifiers; received {name!r}", at)
            if not isinstance(definition, dict) or not isinstance(definition.get("layers"), list):
                raise self.error("a block is a mapping with `layers:` (a list) and optional "
                                 "`params:`", at)
            extra = set(definition) - {"params", "layers"}
            if extra:
                raise self.error(f"unknown key {sorted(extra)[0]!r} in block {name}; a block "
                                 "has params and layers", at)
            block_params = definition.get("params") or {}
            if isinstance(block_params, list):
                for index, item in enumerate(block_params):
                    if not isinstance(item, str):
                        raise self.error("a list of block params holds their names; received "
                                         f"{_short(item)}", (*at, "params", index))
                    self._check_param_name(item, (*at, "params", index))
                    if block_params.index(item) != index:
                        raise self.error(f"parameter {item!r} is listed twice",
                                         (*at, "params", index))
                definition = {**definition, "params": dict.fromkeys(block_params)}
            elif isinstance(block_params, dict):
                for key in block_params:
                    self._check_param_name(key, (*at, "params", key))
            else:
                raise self.error("block params are a mapping (null = required) or a list",
                                 (*at, "params"))
            raw[name] = definition
        return raw

    def use_block(
        self, name: str, args: Any, src: SpecPath, dst: SpecPath, scope: Scope,
        stack: tuple[str, ...],
    ) -> Any:
        if name in stack:
            cycle = " -> ".join([*stack[stack.index(name):], name])
            raise self.error(f"block {name} uses itself: {cycle}", src)
        if len(stack) >= MAX_BLOCK_DEPTH:
            raise self.error(f"blocks nest deeper than {MAX_BLOCK_DEPTH}", src)
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise self.error(f"the arguments of block {name} must be a mapping; received "
                             f"{args!r}", src)
        definition = self.definitions[name]
        declared: dict[str, Any] = definition.get("params") or {}
        module_name = args.get("name")
        inner: Scope = dict(scope)
        for key, value in args.items():
            if key == "name":
                continue
            if key not in declared:
                guess = did_you_mean(key, declared)
                hint = f"; did you mean {guess}?" if guess else (
                    f"; it takes {', '.join(declared) or 'no parameters'}")
                raise self.error(f"unknown argument {key!r} for block {name}{hint}", (*src, key))
            inner[key] = self.argument(value, (*src, key), scope)
        for key, default in declared.items():
            if key in args:
                continue
            if default is None:
                raise self.error(f"block {name} needs {key}", src)
            inner[key] = self.argument(default, ("blocks", name, "params", key), inner)
        body_src = ("blocks", name, "layers")
        layers = definition["layers"]
        if len(layers) == 1:
            entry = self.value(layers[0], (*body_src, 0), dst, inner, (*stack, name), True)
            if module_name is not None and _is_repeat(entry):
                return self._wrap_named(entry, dst, src, module_name)
            return _named(entry, module_name)
        wrapped = {"Sequential": {"layers": None}}
        self.out[(*dst, "Sequential")] = self.positions.get(src)
        expanded = self.value(layers, body_src, (*dst, "Sequential", "layers"), inner,
                              (*stack, name), False)
        wrapped["Sequential"]["layers"] = expanded
        if module_name is not None:
            wrapped["Sequential"]["name"] = module_name
        return wrapped

    def _wrap_named(self, entry: Any, dst: SpecPath, src: SpecPath, name: Any) -> Any:
        """A named block whose one layer is a ``Repeat``: a ``Sequential`` of the copies, named,
        the ``Repeat``'s positions moved under it."""
        inner = (*dst, "Sequential", "layers", 0)
        for path in [path for path in self.out if path[: len(dst)] == dst]:
            self.out[(*inner, *path[len(dst):])] = self.out[path]
        self.out[(*dst, "Sequential")] = self.positions.get(src)
        self.out[(*dst, "Sequential", "layers")] = self.positions.get(src)
        return {"Sequential": {"layers": [entry], "name": name}}

    def argument(self, value: Any, at: SpecPath, scope: Scope) -> Any:
        """A block argument or parameter default: a scalar, or a list of them, item by item."""
        if isinstance(value, list):
            return [self.argument(item, (*at, index), scope) for index, item in enumerate(value)]
        return self.scalar(value, at, scope)

    # --- values ---

    def value(
        self, node: Any, src: SpecPath, dst: SpecPath, scope: Scope, stack: tuple[str, ...],
        in_list: bool,
    ) -> Any:
        try:
            return self._value(node, src, dst, scope, stack, in_list)
        except LimitError:
            raise
        except SpecError as error:
            if self.holes is None:
                raise
            self.holes.extend((dst, problem) for problem in error.problems)
            return node

    def _value(
        self, node: Any, src: SpecPath, dst: SpecPath, scope: Scope, stack: tuple[str, ...],
        in_list: bool,
    ) -> Any:
        self.count += 1
        if self.count > MAX_EXPANDED_VALUES:
            raise LimitError(self.error(
                f"blocks expand to more than {MAX_EXPANDED_VALUES:,} values", src).problems)
        if len(dst) > MAX_DEPTH:  # blocks inside blocks: the recursion below is bounded here
            [problem] = self.error(
                f"blocks expand to a spec nested deeper than {MAX_DEPTH} levels", src).problems
            raise LimitError(replace(problem, path=src[:4]))  # the line says where
        self.out[dst] = self.positions.get(src)
        if dst[-1:] == ("name",):
            return node  # module names are literal, even when they match a parameter
        if in_list and isinstance(node, str) and node in self.definitions:
            return self.use_block(node, None, src, dst, scope, stack)
        if in_list and isinstance(node, dict) and len(node) == 1:
            (key, args), = node.items()
            if key in self.definitions:
                return self.use_block(key, args, (*src, key), dst, scope, stack)
        if in_list and self.definitions:
            self._check_block_typo(node, src)
        if isinstance(node, dict):
            return {key: self.value(item, (*src, key), (*dst, key), scope, stack, False)
                    for key, item in node.items()}
        if isinstance(node, list):
            return [self.value(item, (*src, i), (*dst, i), scope, stack, True)
                    for i, item in enumerate(node)]
        return self.scalar(node, src, scope)

    def _check_block_typo(self, node: Any, src: SpecPath) -> None:
        """An entry that is no layer kind but nearly a block's name: suggest the block."""
        kind = node if isinstance(node, str) else (
            next(iter(node)) if isinstance(node, dict) and len(node) == 1 else None)
        if not isinstance(kind, str):
            return
        if is_kind(kind) or kind in self.definitions:
            return
        if did_you_mean(kind, self.definitions) is None:
            return  # near no block: nothing to say here (a kind's typo is the validator's)
        guess = did_you_mean(kind, [*self.definitions, *kind_names()])
        if guess in self.definitions:
            raise self.error(f"unknown layer kind or block {kind!r}; did you mean {guess}?", src)

    def scalar(self, value: Any, at: SpecPath, scope: Scope) -> Any:
        """A literal, or the value of an expression over the parameters in ``scope``."""
        if not isinstance(value, str):
            return value
        held = scope.get(value.strip(), 0)
        if isinstance(held, bool) or not isinstance(held, int | float):
            return held  # one parameter's name, not a number: its value, whole
        tokens = tokenize(value)
        names = names_in(value)
        if tokens is None or names is None:
            return value
        known = names & scope.keys()
        if names:  # '-' also joins words ('nearest-exact'): arithmetic only next to a number
            numbers = any(t[0].isdigit() or t[0] == "." for t in tokens)
            arithmetic = any(t in _ARITHMETIC for t in tokens) or ("-" in tokens and numbers)
        else:
            arithmetic = any(op in value for op in "+-*/%(")
        if not known and not arithmetic:
            return value  # a plain string such as 'same' or 'nearest-exact'
        unknown = names - scope.keys()
        if unknown:
            name = sorted(unknown)[0]
            guess = did_you_mean(name, [*scope, *FUNCTIONS])
            hint = f"; did you mean {guess}?" if guess else ""
            raise self.error(f"undefined parameter {name!r} in {value!r}{hint}", at)
        try:
            return evaluate(value, scope)
        except ValueError as error:
            hint = ""
            if value.count("(") > value.count(")"):
                hint = ("; inside a {...} flow mapping a comma ends the value: quote expressions "
                        "that contain commas, such as \"max(1, width)\"")
            raise self.error(f"cannot evaluate {value!r}: {error}{hint}", at) from None


def _is_repeat(entry: Any) -> bool:
    return isinstance(entry, dict) and len(entry) == 1 and "Repeat" in entry


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _named(entry: Any, name: Any) -> Any:
    """A single-layer block's entry, with the use site's ``name:``."""
    if name is None:
        return entry
    if isinstance(entry, str):
        return {entry: {"name": name}}
    if isinstance(entry, dict) and len(entry) == 1:
        (kind, args), = entry.items()
        return {kind: {**(args or {}), "name": name}}
    return entry
