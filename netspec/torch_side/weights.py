"""Weights for a model built on the meta device: ``init_weights`` after ``to_empty``.

    model = netspec.build(spec, device="meta")    # structure only: no weight memory
    # ... wrap or shard it here (FSDP2's fully_shard), still without weights ...
    model.to_empty(device="cuda")                 # uninitialised storage on the target device
    netspec.init_weights(model, seed=0)           # torch's own initialisation, module by module

``init_weights`` calls ``reset_parameters()`` of every module that holds parameters or buffers
of its own (which also zeroes batch-norm running statistics), in the order ``build`` creates
them, so with the same seed a model initialised this way equals ``torch.manual_seed(seed);
netspec.build(spec)``. Parameters sharded by FSDP2 (``DTensor``) are initialised one module at a
time as full tensors and then sharded, so every rank holds its own part of the same weights
that a single process would draw (torch's random ops on a sharded tensor would give each CPU rank
the same values for its own shard). The full tensors of one module exist only while it is reset.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from netspec.core.errors import NetspecError

__all__ = ["init_weights"]


def init_weights(model: nn.Module, *, seed: int | None = None) -> nn.Module:
    """Initialise every parameter and buffer of ``model`` in place, as its constructors do.

    ``seed`` seeds torch's global generator first (``None`` keeps its state). Returns
    ``model``. Raises ``NetspecError`` for a module with parameters or buffers of its own and
    no ``reset_parameters`` (it could not be initialised), and for a model still on the meta
    device (call ``model.to_empty(device=...)`` first).
    """
    own = [(name, module) for name, module in model.named_modules() if _holds_tensors(module)]
    on_meta = [name or "(the model)" for name, module in own if any(
        t.is_meta for t in _tensors(module))]
    if on_meta:
        raise NetspecError(
            f"the model is on the meta device ({', '.join(on_meta[:3])}...): materialise it "
            f"first with model.to_empty(device=...), then call init_weights")
    missing = [f"{name or '(the model)'} ({type(module).__name__})" for name, module in own
               if not callable(getattr(module, "reset_parameters", None))]
    if missing:
        raise NetspecError(f"cannot initialise {', '.join(missing)}: no reset_parameters()")
    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        for _, module in own:
            _reset(module)
    return model


def _holds_tensors(module: nn.Module) -> bool:
    return any(True for _ in _tensors(module))


def _tensors(module: nn.Module) -> list[torch.Tensor]:
    return [*module.parameters(recurse=False), *module.buffers(recurse=False)]


def _reset(module: nn.Module) -> None:
    sharded: dict[str, Any] = {name: p for name, p in module.named_parameters(recurse=False)
                               if _is_dtensor(p)}
    if not sharded:
        module.reset_parameters()  # type: ignore[operator]
        return
    from torch.distributed.tensor import distribute_tensor

    for name, p in sharded.items():  # full, plain stand-ins while the module draws its weights
        local = p.to_local()
        module._parameters[name] = nn.Parameter(
            torch.empty(p.shape, dtype=p.dtype, device=local.device), p.requires_grad)
    try:
        module.reset_parameters()  # type: ignore[operator]
        full: dict[str, Any] = {name: module._parameters[name] for name in sharded}
    finally:
        for name, p in sharded.items():
            module._parameters[name] = p
    for name, p in sharded.items():
        shard: Any = distribute_tensor(full[name].detach(), p.device_mesh, p.placements)
        p.to_local().copy_(shard.to_local())


def _is_dtensor(tensor: Any) -> bool:
    if not torch.distributed.is_available():
        return False
    from torch.distributed.tensor import DTensor

    return isinstance(tensor, DTensor)
