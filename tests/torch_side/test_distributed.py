"""``examples/ddp_train.py`` on two CPU processes (gloo): DDP and FSDP2 (``fully_shard``).

One launch runs both: the model is built on the meta device, wrapped or sharded, materialised
and initialised with ``netspec.init_weights``, then trained a few steps, each process on its half
of every batch. The replicas (DDP) and the gathered shards (FSDP2) must be identical on both
processes and equal, to float precision, to one process trained on the whole batches.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed/gloo"
)


def test_ddp_and_fsdp2_on_two_cpu_processes_agree_with_one_process(tmp_path: Path) -> None:
    sys.path.insert(0, str(EXAMPLES))  # the spawned processes import the example by name
    try:
        example = importlib.import_module("ddp_train")
        config = example.Config(steps=3, batch_size=4, modes=("ddp", "fsdp"), out=str(tmp_path))
        example.launch(config, world_size=2, timeout=150)
        reference = example.reference(config, world_size=2)
    finally:
        sys.path.remove(str(EXAMPLES))
    for mode in config.modes:
        first, second = (torch.load(tmp_path / f"{mode}-rank{rank}.pt") for rank in (0, 1))
        assert list(first) == list(reference), mode
        for key, value in reference.items():
            assert torch.equal(first[key], second[key]), f"{mode}: {key} differs between ranks"
            torch.testing.assert_close(first[key], value, rtol=1e-5, atol=1e-6,
                                       msg=f"{mode}: {key}")
        changed = any(not torch.equal(first[k], v) for k, v in example_initial(config).items())
        assert changed, f"{mode}: training changed nothing"


def example_initial(config: object) -> dict[str, torch.Tensor]:
    import netspec

    torch.manual_seed(config.seed)  # type: ignore[attr-defined]
    return netspec.build(config.spec).state_dict()  # type: ignore[attr-defined]
