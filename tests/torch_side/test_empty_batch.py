"""Confirmation on an empty batch: the same numbers as the meta device, for every kind."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torchinfo

import netspec
from netspec.layers.registry import registered_kinds
from netspec.torch_side.confirm import compare, run_torchinfo
from netspec.torch_side.empty_batch import run_on_empty_batch
from netspec.torch_side.flop_count import opaque_statistics
from netspec.torch_side.flops import flop_counter_macs

ROOT = Path(__file__).parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
SAMPLES = {1: [3, 9], 2: [3, 9, 9], 3: [3, 5, 5, 5]}


def conv(rank: int = 2) -> dict[str, Any]:
    return {f"Conv{rank}d": {"out_channels": 4, "kernel_size": 3, "padding": 1}}


CASES: list[tuple[Any, Any]] = [
    case
    for rank, shape in SAMPLES.items()
    for case in [
        (shape, {f"Conv{rank}d": {"out_channels": 4, "kernel_size": 3, "stride": 2,
                                  "padding": 1}}),
        (shape, {f"ConvTranspose{rank}d": {"out_channels": 4, "kernel_size": 2, "stride": 2}}),
        (shape, {f"MaxPool{rank}d": {"kernel_size": 2, "ceil_mode": True}}),
        (shape, {f"AvgPool{rank}d": {"kernel_size": 3, "padding": 1, "stride": 2}}),
        (shape, {f"AdaptiveAvgPool{rank}d": {"output_size": 2}}),
        (shape, {f"AdaptiveMaxPool{rank}d": {"output_size": 2}}),
        (shape, {f"BatchNorm{rank}d": {}}),
        (shape, {f"InstanceNorm{rank}d": {"track_running_stats": True}}),
        (shape, f"Dropout{rank}d"),
    ]
] + [
    ([4, 6, 6], {"GroupNorm": {"num_groups": 2}}),
    ([4, 6, 6], {"LayerNorm": {"normalized_shape": [6, 6]}}),
    ([4, 6, 6], {"LocalResponseNorm": {"size": 2}}),
    ([4, 6, 6], "Dropout"),
    ([4], "AlphaDropout"),
    ([3, 4, 4], {"PReLU": {"num_parameters": 3}}),
    ([3, 4], {"Softmax": {"dim": 1}}),
    ([3, 4], {"LogSoftmax": {"dim": 1}}),
    ([3, 4, 4], "Flatten"),
    ([4], {"Unflatten": {"dim": 1, "unflattened_size": [2, 2]}}),
    ([3, 4], {"Linear": {"out_features": 5}}),
    ([3, 4, 4], {"Upsample": {"scale_factor": 1.5, "mode": "bilinear"}}),
    ([3, 4, 4], {"Upsample": {"size": 7, "mode": "bicubic", "align_corners": True}}),
    ([3, 4], "Identity"),
    *(([3, 4, 4], kind) for kind in ("ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Mish",
                                     "Hardswish", "Hardsigmoid", "Sigmoid", "Tanh")),
    ([3, 8, 8], {"Residual": {"body": [conv(), "ReLU"], "post": ["ReLU"]}}),
    ([3, 8, 8], {"Residual": {"body": [{"Conv2d": {"out_channels": 6, "kernel_size": 3,
                                                   "stride": 2, "padding": 1}}]}}),
    ([3, 8, 8], {"Parallel": {"branches": [[conv()], [conv(), "ReLU"]], "merge": "add"}}),
    ([3, 8, 8], {"Parallel": {"branches": [[conv()], [conv()]]}}),
    ([3, 8, 8], {"Sequential": {"layers": [conv(), {"BatchNorm2d": {"trainable": False}}]}}),
    ([3, 8, 8], {"Repeat": {"times": 2, "layers": [conv()]}}),
    ([4, 8, 8], {"Parallel": {"branches": [[conv()], [{"AdaptiveAvgPool2d": {"output_size": 1}}]],
                              "merge": "mul"}}),
    ([4, 6, 6], {"Gate": {"layers": [{"AdaptiveAvgPool2d": {"output_size": 1}},
                                     {"Conv2d": {"out_channels": 4, "kernel_size": 1}},
                                     "Sigmoid"]}}),
    ([4, 6, 5], {"Permute": {"dims": [1, 2, 0]}}),
    ([4, 6, 6], {"ChannelShuffle": {"groups": 2}}),
    ([5, 6, 6], {"Chunk": {"chunks": 2, "index": 1}}),
    ([4, 6, 6], {"Narrow": {"dim": 2, "start": -3, "length": 2}}),
    ([4, 6, 6], {"LayerScale": {"init_value": 0.5}}),
    ([4, 6, 6], {"StochasticDepth": {"p": 0.2, "mode": "row"}}),
    ([9, 10, 8], {"ShiftedWindowAttention": {"window_size": [4, 3], "shift_size": [2, 1],
                                              "num_heads": 2}}),
    ([7, 9, 6], "PatchMerging"),
    ([4, 14, 14], {"Partition": {"partition_type": "grid", "partition_size": 7, "layers": [
        "LayerNorm", {"RelativePositionalMultiHeadAttention": {"head_dim": 2}}]}}),
    ([2, 9, 8], {"RelativePositionalMultiHeadAttention": {"head_dim": 4}}),
    ([5, 8], "ClassToken"),
    ([5, 8], {"PositionEmbedding": {"mode": "learnable"}}),
    ([5, 8], {"PositionEmbedding": {"mode": "sinusoidal"}}),
    ([5, 8], {"SelectToken": {"index": -1}}),
    ([5, 8], "TokenMean"),
    ({"shape": [7], "dtype": "long"}, {"Embedding": {"num_embeddings": 20, "embedding_dim": 4}}),
    ([5, 8], {"MultiheadAttention": {"num_heads": 2}}),
    ([5, 8], {"TransformerEncoderLayer": {"nhead": 2, "dim_feedforward": 12}}),
    ([5, 6, 4], {"ShiftedWindowAttention": {"window_size": 3, "shift_size": 1,
                                            "num_heads": 2}}),
    ([5, 6, 4], "PatchMerging"),
    ([4, 6, 9], {"Partition": {"partition_type": "grid", "partition_size": 3, "layers": [
        "LayerNorm", {"RelativePositionalMultiHeadAttention": {"head_dim": 2}}]}}),
]


def kind_of(entry: Any) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def statistics(stats: Any) -> list[tuple[Any, ...]]:
    return [
        (info.class_name, info.output_size[1:], info.num_params, info.trainable_params,
         info.macs)
        for info in stats.summary_list
    ] + [(stats.total_params, stats.trainable_params, stats.total_mult_adds)]


def test_the_cases_cover_every_kind() -> None:
    inside = {"RelativePositionalMultiHeadAttention"}  # only inside a Partition's groups
    assert {kind_of(entry) for _, entry in CASES} | inside == set(registered_kinds())


@pytest.mark.parametrize(("shape", "entry"), CASES, ids=[kind_of(e) for _, e in CASES])
def test_an_empty_batch_gives_the_meta_devices_numbers(shape: Any, entry: Any) -> None:
    spec = netspec.load({"input": shape, "layers": [entry]})
    report = netspec.analyze(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, stats = run_on_empty_batch(spec, report)
        _, on_meta = run_torchinfo(spec, report)
    assert compare(spec, report, model, stats, flop_counter_macs(spec, report.input_shape)) == []
    # attention and embeddings: one leaf each (netspec.torch_side.flop_count)
    assert statistics(opaque_statistics(stats)) == statistics(opaque_statistics(on_meta))


def test_a_kernel_that_refuses_empty_batches_leaves_it_to_the_meta_device() -> None:
    """torch's instance norm with affine weights indexes its (empty) batch of weights."""
    spec = netspec.load({"input": [3, 6, 6], "layers": [{"InstanceNorm2d": {"affine": True}}]})
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_on_empty_batch(spec, netspec.analyze(spec))
    confirmed_by = netspec.summary(spec).confirmed_by
    assert confirmed_by == f"torchinfo {torchinfo.__version__} and FlopCounterMode"


@pytest.mark.parametrize("path", SPECS, ids=[path.stem for path in SPECS])
def test_every_bundled_spec_is_confirmed_on_an_empty_batch(path: Path) -> None:
    spec = netspec.load(path)
    report = netspec.analyze(spec)
    macs = flop_counter_macs(spec, report.input_shape)
    assert compare(spec, report, *run_on_empty_batch(spec, report), macs) == []


def test_the_empty_batch_imports_neither_sympy_nor_dynamo() -> None:
    """The meta device's Python kernels import both (about 1 s and 70 MB); this path does not.
    (Counting MACs with FlopCounterMode does: any torch dispatch mode imports torch._dynamo.)"""
    code = (
        "import sys, netspec\n"
        "from netspec.torch_side.empty_batch import run_on_empty_batch\n"
        "spec = netspec.load('specs/resnet18.yaml')\n"
        "run_on_empty_batch(spec, netspec.analyze(spec))\n"
        "print(sorted(m for m in ('sympy', 'torch._dynamo') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]"
