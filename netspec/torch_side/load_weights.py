"""Pretrained weights into a built model: ``netspec.load_weights`` and ``build(weights=...)``.

    model = netspec.build("specs/resnet50.yaml", weights="resnet50-0676ba61.pth")
    netspec.load_weights(model, "checkpoint.pt")            # or a state dict, a .safetensors

A file is read with ``torch.load(weights_only=True)``, which never runs code from the file; a
checkpoint (a dict holding the state dict under ``state_dict``, ``model`` or
``model_state_dict``) is unwrapped. ``.safetensors`` files need the ``safetensors`` package.

The file's tensors are matched to the model's parameters and buffers (``state_dict()`` order,
batch-norm statistics included): by key when the keys are the model's; otherwise in order,
every shape checked, which is how a torchvision checkpoint fits a spec whose modules are named
differently; and where the two orders differ only between tensors of different shapes (a
parameter that the source model registers on a parent before its children, such as ConvNeXt's
layer scale), in order within each shape. Anything that does not fit is one ``NetspecError``
listing every entry (its key, both shapes, the spec line of its layer), and nothing is copied
until everything fits.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, TypeAlias

import torch
from torch import nn

from netspec.core.errors import NetspecError, Problem
from netspec.reading.spec import Spec
from netspec.torch_side.locate import Locator, built_from

__all__ = ["Loaded", "WeightsSource", "load_weights", "load_weights_with_report", "read_weights"]

WeightsSource: TypeAlias = "str | os.PathLike[str] | Mapping[str, torch.Tensor]"
CHECKPOINT_KEYS = ("state_dict", "model", "model_state_dict")
MAX_LISTED = 100
SAFETENSORS_INSTALL = "pip install safetensors"

Signature = tuple[tuple[int, ...], str]
"""What must agree between a file's tensor and the model's: the shape, and float/complex/int."""


@dataclass(frozen=True)
class Loaded:
    """How ``load_weights`` matched the file to the model."""

    source: str
    tensors: int
    matched_by: str
    """``"key"``, ``"order"`` or ``"order within each shape"``."""


@dataclass(frozen=True)
class _Weights:
    """The tensors read from a source, in its order (``ordered``: the order is the saver's)."""

    name: str
    entries: list[tuple[str, torch.Tensor]]
    ordered: bool


def load_weights(model: nn.Module, source: WeightsSource, *, spec: Spec | None = None
                 ) -> nn.Module:
    """Copy the weights of ``source`` into ``model`` in place; returns ``model``.

    ``source``: a file saved with ``torch.save`` (a state dict, or a checkpoint dict holding
    one under ``state_dict``, ``model`` or ``model_state_dict``), a ``.safetensors`` file, or a
    state dict. ``spec`` locates mismatches at its lines; by default, the spec ``netspec.build``
    built ``model`` from. Raises ``NetspecError`` for a file that cannot be read, that holds
    Python objects ``weights_only`` loading refuses, or whose tensors do not all fit, listing
    every entry that does not; then no weight has changed.
    """
    load_weights_with_report(model, source, spec=spec)
    return model


def load_weights_with_report(model: nn.Module, source: WeightsSource, *,
                             spec: Spec | None = None) -> Loaded:
    """``load_weights``, returning how the tensors were matched (for ``summary --weights``)."""
    weights = read_weights(source)
    targets = list(model.state_dict(keep_vars=True).items())
    on_meta = [key for key, tensor in targets if tensor.is_meta]
    if on_meta:
        raise NetspecError(Problem(
            f"the model is on the meta device ({on_meta[0]}...): materialise it first with "
            f"model.to_empty(device=...), then load the weights", file=weights.name))
    pairs, matched_by = _match(weights, targets, spec or built_from(model), model)
    with torch.no_grad():
        for target, tensor in pairs:
            target.copy_(tensor)
    return Loaded(weights.name, len(pairs), matched_by)


# --- reading ---


def read_weights(source: WeightsSource) -> _Weights:
    """The tensors of ``source`` in order; every failure is a ``NetspecError`` in our words."""
    if isinstance(source, Mapping):
        return _Weights("the state dict", _tensors(dict(source), "the state dict"), True)
    if not isinstance(source, str | os.PathLike):
        raise NetspecError(
            f"weights must be a file path or a state dict (a mapping of names to tensors); "
            f"received {type(source).__name__}")
    path = Path(source)
    name = str(source)
    if not path.exists():
        raise NetspecError(Problem("no such file", file=name))
    if path.is_dir():
        raise NetspecError(Problem("is a directory, not a weights file", file=name))
    if not path.is_file():
        raise NetspecError(Problem("is not a regular file", file=name))
    if path.stat().st_size == 0:
        raise NetspecError(Problem("the file is empty: it holds no weights", file=name))
    if path.suffix.lower() == ".safetensors":
        return _Weights(name, _tensors(_read_safetensors(path, name), name), False)
    return _Weights(name, _tensors(_unwrap(_read_torch(path, name), name), name), True)


def _read_torch(path: Path, name: str) -> Any:
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not ours
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise NetspecError(Problem(_refusal(str(error)), file=name)) from None
    except EOFError:
        raise NetspecError(Problem("the file ends early: it is truncated or not a torch file",
                                   file=name)) from None
    except OSError as error:
        raise NetspecError(Problem(f"cannot read the file: {error.strerror or error}",
                                   file=name)) from None
    except Exception as error:  # torch's many ways of saying "not a torch file"
        first = (str(error).strip().splitlines() or [type(error).__name__])[0].split(". ")[0]
        raise NetspecError(Problem(
            f"not a file saved by torch.save (a state dict or checkpoint): "
            f"{type(error).__name__}: {first[:200]}", file=name)) from None


def _refusal(message: str) -> str:
    """torch's weights_only refusal (a long paragraph that varies by version) in our words."""
    named = re.search(r"GLOBAL ([\w.]+)", message)
    if named:
        return (f"refused: the file holds Python code/objects that weights_only loading does not "
                f"run (it names {named.group(1)}); netspec never unpickles code. If you trust "
                f"the file, load it yourself (torch.load(..., weights_only=False)) and pass the "
                f"state dict")
    found = re.search(r"WeightsUnpickler error:\s*([^\n]+)", message) or re.search(
        r"(Unsupported operand \d+)", message)
    reason = found.group(1).strip().rstrip(".")[:120] if found else "not allowed"
    return (f"refused: not a file saved by torch.save, or one holding Python code/objects that "
            f"weights_only loading does not run ({reason})")


def _read_safetensors(path: Path, name: str) -> dict[str, Any]:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise NetspecError(Problem(
            f"reading .safetensors needs the safetensors package: {SAFETENSORS_INSTALL}",
            file=name)) from None
    try:
        loaded: dict[str, Any] = load_file(path, device="cpu")
    except Exception as error:  # SafetensorError and friends
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise NetspecError(Problem(f"not a readable .safetensors file: {first[:200]}",
                                   file=name)) from None
    return loaded


def _unwrap(loaded: Any, name: str) -> dict[str, Any]:
    """A state dict, or the one a checkpoint dict holds under ``CHECKPOINT_KEYS``."""
    if not isinstance(loaded, Mapping):
        raise NetspecError(Problem(
            f"holds a {type(loaded).__name__}, not a state dict (a mapping of names to tensors)",
            file=name))
    if all(isinstance(value, torch.Tensor) for value in loaded.values()):
        return dict(loaded)
    for key in CHECKPOINT_KEYS:
        inner = loaded.get(key)
        if isinstance(inner, Mapping) and all(
                isinstance(value, torch.Tensor) for value in inner.values()):
            return dict(inner)
    return dict(loaded)  # _tensors names the entries that are not tensors


def _tensors(state: dict[Any, Any], name: str) -> list[tuple[str, torch.Tensor]]:
    others = [f"{key!r} ({type(value).__name__})" for key, value in state.items()
              if not isinstance(value, torch.Tensor) or not isinstance(key, str)]
    if others:
        raise NetspecError(Problem(
            f"not a state dict: {', '.join(others[:5])}{' ...' if len(others) > 5 else ''} "
            f"{'is not a named tensor' if len(others) == 1 else 'are not named tensors'} (a "
            f"checkpoint's state "
            f"dict is looked for under {', '.join(map(repr, CHECKPOINT_KEYS))})", file=name))
    on_meta = [key for key, value in state.items() if value.is_meta]
    if on_meta:
        raise NetspecError(Problem(f"{on_meta[0]!r} is on the meta device: it has no values",
                                   file=name))
    return list(state.items())


# --- matching ---


def _match(weights: _Weights, targets: list[tuple[str, torch.Tensor]], spec: Spec | None,
           model: nn.Module) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], str]:
    """(model tensor, file tensor) pairs and how they were matched, or the error."""
    given = weights.entries
    mine = [_signature(tensor) for _, tensor in targets]
    theirs = [_signature(tensor) for _, tensor in given]
    by_key = dict(given)
    if set(by_key) == {key for key, _ in targets}:
        if all(_signature(by_key[key]) == sig for (key, _), sig in zip(targets, mine, strict=True)):
            return [(tensor, by_key[key]) for key, tensor in targets], "key"
        raise _misfit(weights, targets, spec, model, "key", " (the keys are the model's)")
    if weights.ordered and theirs == mine:
        return [(target, tensor) for (_, target), (_, tensor) in zip(
            targets, given, strict=True)], "order"
    if weights.ordered and Counter(theirs) == Counter(mine):
        queues: dict[Signature, deque[torch.Tensor]] = {}
        for (_, tensor), sig in zip(given, theirs, strict=True):
            queues.setdefault(sig, deque()).append(tensor)
        pairs = [(target, queues[sig].popleft()) for (_, target), sig in zip(
            targets, mine, strict=True)]
        return pairs, "order within each shape"
    if not weights.ordered:
        raise _misfit(weights, targets, spec, model, "key", (
            " (a .safetensors file does not keep its tensors' order, so its keys must be the "
            "model's)"))
    shared = len(by_key.keys() & {key for key, _ in targets})
    if shared * 2 >= max(len(given), len(targets)):
        raise _misfit(weights, targets, spec, model, "key", " (most keys are the model's)")
    raise _misfit(weights, targets, spec, model, "order", " (the keys are not the model's)")


def _signature(tensor: torch.Tensor) -> Signature:
    kind = ("complex" if tensor.is_complex() else "float" if tensor.is_floating_point()
            else "integer")
    return tuple(tensor.shape), kind


def _misfit(weights: _Weights, targets: list[tuple[str, torch.Tensor]], spec: Spec | None,
            model: nn.Module, matched_by: str, why: str) -> NetspecError:
    """One error: a header, then every entry that does not fit, each at its layer's line."""
    locate = Locator(spec, model)
    entries = _differences_by_key(weights, targets) if matched_by == "key" else (
        _differences_by_order(weights, targets))
    problems = [locate.problem(key, message, weights.name) for key, message in entries]
    shown = problems[:MAX_LISTED]
    if len(problems) > MAX_LISTED:
        shown.append(Problem(f"... and {len(problems) - MAX_LISTED} more entries that do not "
                             f"fit", file=weights.name))
    other = "; are these the weights of another network?" if len(problems) * 2 > len(
        targets) else ""
    header = Problem(
        f"cannot load these weights into the spec's model: {len(problems)} "
        f"{'entry does' if len(problems) == 1 else 'entries do'} not fit, matched by "
        f"{matched_by}{why}; the weights have {len(weights.entries)} tensors, the model "
        f"{len(targets)}{other}. Nothing was loaded", file=weights.name)
    return NetspecError([header, *shown])


def _differences_by_key(weights: _Weights, targets: list[tuple[str, torch.Tensor]]
                        ) -> list[tuple[str | None, str]]:
    """(model key or None, message) for each key whose shape differs, is missing or extra."""
    given = dict(weights.entries)
    found: list[tuple[str | None, str]] = []
    for key, tensor in targets:
        if key not in given:
            found.append((key, f"{key!r} {_shape(tensor)} is missing from the weights"))
        elif _signature(given[key]) != _signature(tensor):
            found.append((key, f"{key!r}: {_both(given[key], tensor)}"))
    wanted = {key for key, _ in targets}
    found += [(None, f"unexpected entry {key!r} {_shape(tensor)}: the model has no such key")
              for key, tensor in weights.entries if key not in wanted]
    return found


def _differences_by_order(weights: _Weights, targets: list[tuple[str, torch.Tensor]]
                          ) -> list[tuple[str | None, str]]:
    """The two sequences of shapes aligned (difflib): replaced, extra and missing entries."""
    given = weights.entries
    matcher = SequenceMatcher(None, [_signature(t) for _, t in given],
                              [_signature(t) for _, t in targets], autojunk=False)
    found: list[tuple[str | None, str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for offset in range(pairs):
            (their_key, tensor), (key, target) = given[i1 + offset], targets[j1 + offset]
            found.append((key, f"{key!r} (entry {j1 + offset} in order) against "
                               f"{their_key!r}: {_both(tensor, target)}"))
        for key, target in targets[j1 + pairs:j2]:
            found.append((key, f"{key!r} {_shape(target)} has no counterpart in the weights "
                               f"(missing)"))
        for their_key, tensor in given[i1 + pairs:i2]:
            found.append((None, f"unexpected entry {their_key!r} {_shape(tensor)}: no "
                                f"parameter or buffer of the model takes it at that place"))
    return found


def _shape(tensor: torch.Tensor) -> str:
    return str(list(tensor.shape))


def _both(tensor: torch.Tensor, target: torch.Tensor) -> str:
    """Both shapes, and both dtypes when the shapes agree (float into integer, say)."""
    if tuple(tensor.shape) != tuple(target.shape):
        return f"the weights have {_shape(tensor)}, the model {_shape(target)}"
    dtypes = [str(t.dtype).removeprefix("torch.") for t in (tensor, target)]
    return f"the weights have {_shape(tensor)} {dtypes[0]}, the model {dtypes[1]}"
