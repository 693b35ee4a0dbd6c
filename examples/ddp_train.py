"""Train a netspec model on several processes with torch.distributed: DDP, or FSDP2 (--fsdp).

    python examples/ddp_train.py                              # 2 CPU processes, gloo, DDP
    python examples/ddp_train.py --fsdp --steps 50            # FSDP2 (fully_shard) on the CPU
    torchrun --nproc-per-node 2 examples/ddp_train.py         # processes started by torchrun
    torchrun --nproc-per-node 8 examples/ddp_train.py specs/resnet18.yaml --device cuda --fsdp

The model is built on the meta device (no weight memory), wrapped or sharded while it has no
weights, then materialised on the target device and initialised there:

    model = netspec.build(spec, device="meta")
    for layer in model: fully_shard(layer)        # FSDP2 only: each layer with parameters
    fully_shard(model)
    model.to_empty(device=device)
    netspec.init_weights(model, seed=0)

so no process ever holds the whole model before it is sharded. The data are synthetic: each step
draws one global batch from a seeded generator and every process trains on its own slice, so
the run is reproducible and comparable with one process on the whole batch (``reference``).
On CUDA the backend is NCCL and each process uses the GPU of its local rank.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import netspec

HERE = Path(__file__).resolve().parent
DEFAULT_SPEC = HERE / "tiny_cnn.yaml"


@dataclass(frozen=True)
class Config:
    spec: str = str(DEFAULT_SPEC)  # a spec file or YAML text
    steps: int = 20
    batch_size: int = 8  # per process
    lr: float = 0.05
    seed: int = 0
    modes: tuple[str, ...] = ("ddp",)  # "ddp", "fsdp", run one after the other
    device: str = "cpu"
    out: str | None = None  # a folder: each process saves its final full state dict there
    params: dict[str, Any] = field(default_factory=dict)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    config = Config(
        spec=args.spec, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, modes=("fsdp",) if args.fsdp else ("ddp",), device=args.device,
        out=args.out,
    )
    if "RANK" in os.environ:  # started by torchrun: one process of many
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        _run(rank, world_size, "env://", config)
    else:
        launch(config, world_size=args.nproc)


def launch(config: Config, world_size: int = 2, timeout: float | None = None) -> None:
    """Start ``world_size`` processes on this machine and wait for them (``timeout`` seconds)."""
    init = f"tcp://127.0.0.1:{free_port()}"
    context = mp.start_processes(_spawned, args=(world_size, init, config), nprocs=world_size,
                                 join=False, start_method="spawn")
    deadline = None if timeout is None else time.monotonic() + timeout
    while not context.join(timeout=1):
        if deadline is not None and time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            raise TimeoutError(f"the {world_size} training processes took over {timeout} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _spawned(rank: int, world_size: int, init: str, config: Config) -> None:
    _run(rank, world_size, init, config)


def _run(rank: int, world_size: int, init: str, config: Config) -> None:
    cuda = config.device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    dist.init_process_group("nccl" if cuda else "gloo", init_method=init, rank=rank,
                            world_size=world_size)
    try:
        for mode in config.modes:
            state, loss = train(mode, rank, world_size, config)
            if rank == 0:
                print(f"{mode}: {world_size} processes, {config.steps} steps, loss {loss:.4f}")
            if config.out is not None:
                Path(config.out).mkdir(parents=True, exist_ok=True)
                torch.save(state, Path(config.out) / f"{mode}-rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def train(mode: str, rank: int, world_size: int, config: Config
          ) -> tuple[dict[str, torch.Tensor], float]:
    """Build, wrap, materialise, initialise, train; the final full state dict and loss."""
    device = torch.device(config.device, torch.cuda.current_device()) if (
        config.device.startswith("cuda")) else torch.device(config.device)
    spec = netspec.load(config.spec, params=config.params)
    model = netspec.build(spec, device="meta")
    if mode == "ddp":
        model.to_empty(device=device)
        netspec.init_weights(model, seed=config.seed)
        wrapped: nn.Module = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    elif mode == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for layer in model:
            if any(True for _ in layer.parameters()):
                fully_shard(layer)
        fully_shard(model)
        model.to_empty(device=device)
        netspec.init_weights(model, seed=config.seed)
        wrapped = model
    else:
        raise ValueError(f"mode is ddp or fsdp; received {mode!r}")
    loss = fit(wrapped, spec, config, rank, world_size, device)
    return _full_state(model), loss


def fit(model: nn.Module, spec: netspec.Spec, config: Config, rank: int, world_size: int,
        device: torch.device) -> float:
    """SGD on synthetic batches; this process trains on its slice of each global batch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    classes = netspec.analyze(spec).output_shape
    loss = torch.zeros(())
    for step in range(config.steps):
        inputs, targets = batch(spec, classes, config, step, world_size)
        part = slice(rank * config.batch_size, (rank + 1) * config.batch_size)
        output = model(inputs[part].to(device))
        loss = _loss(output, targets[part].to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def batch(spec: netspec.Spec, out_shape: tuple[int, ...], config: Config, step: int,
          world_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The global batch of ``step``: the same on every process."""
    generator = torch.Generator().manual_seed(config.seed * 100_003 + step)
    size = config.batch_size * world_size
    inputs = torch.randn(size, *spec.input, generator=generator)
    if len(out_shape) == 1:  # classes: random labels
        return inputs, torch.randint(out_shape[0], (size,), generator=generator)
    return inputs, torch.randn(size, *out_shape, generator=generator)


def _loss(output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if targets.dtype == torch.long:
        return nn.functional.cross_entropy(output, targets)
    return nn.functional.mse_loss(output, targets)


def _full_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole state dict on the CPU: sharded (DTensor) entries gathered."""
    from torch.distributed.tensor import DTensor

    return {key: (value.full_tensor() if isinstance(value, DTensor) else value).detach().cpu()
            for key, value in model.state_dict().items()}


def reference(config: Config, world_size: int = 2) -> dict[str, torch.Tensor]:
    """One process on the whole global batch: what the distributed runs must reproduce."""
    spec = netspec.load(config.spec, params=config.params)
    torch.manual_seed(config.seed)
    model = netspec.build(spec)
    whole = replace(config, batch_size=config.batch_size * world_size)
    fit(model, spec, whole, 0, 1, torch.device("cpu"))
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", default=str(DEFAULT_SPEC), help="a spec file")
    parser.add_argument("--nproc", type=int, default=2, help="processes to start (default 2)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8, help="per process")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fsdp", action="store_true", help="shard with FSDP2 instead of DDP")
    parser.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (nccl)")
    parser.add_argument("--out", help="save each process's final state dict in this folder")
    return parser


if __name__ == "__main__":
    main(sys.argv[1:])
