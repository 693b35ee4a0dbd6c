"""torchinfo on a batch of zero samples: torch's shapes, parameters and MACs, no weight memory.

The fast way to confirm an analysis (``netspec.confirm`` tries it first). The spec is built on
the meta device; each parameter and buffer then gets CPU storage from ``torch.empty``, which
nothing writes, so it stays reserved address space and never becomes resident memory; and
torchinfo runs a batch of zero samples through the module. With no sample to compute, every CPU
kernel still checks its arguments and computes its output's shape, but does no arithmetic and
reads no weight: VGG-16 is confirmed in milliseconds, and a billion parameters cost no memory.

Why not the meta device alone: torch's meta kernels are written in Python, and their first use
imports ``sympy`` (through ``torch.fx.experimental.symbolic_shapes``) and ``torch._dynamo``:
about 1 s of CPU and 70 MB, several times the cost of the confirmation itself (measured in
``benchmarks/``). ``FakeTensorMode`` runs the same kernels, and ``Module.to_empty`` takes the
same path (``torch.empty_like`` of a meta tensor): hence ``torch.empty`` by shape here.

torchinfo records each output with its batch size, zero here, and counts MACs for the whole
batch. So every recorded output size gets a batch of one, and torchinfo's own
``LayerInfo.calculate_macs`` and ``ModelStatistics`` count again, as they would for one sample.

Anything unusual raises, and ``netspec.confirm`` then lets the meta device decide.
"""

from __future__ import annotations

import torch
import torchinfo
from torch import nn
from torchinfo.torchinfo import clear_cached_forward_pass

from netspec.analysis.analysis import Report
from netspec.reading.spec import Spec
from netspec.torch_side.build import build


def run_on_empty_batch(spec: Spec, report: Report) -> tuple[nn.Module, torchinfo.ModelStatistics]:
    """torchinfo's statistics of the built spec for one sample, computed on an empty batch.

    Raises whatever torch raises (a kernel that refuses empty batches, an allocation refused)
    and ``ValueError`` for an output torchinfo did not record as one batched tensor.
    """
    depth = max((row.depth for row in report.layers), default=0) + 1
    model = build(spec, device="meta")
    for module in model.modules():
        for name, tensor in [*module.named_parameters(recurse=False),
                             *module.named_buffers(recurse=False)]:
            storage = _unbacked(tensor)
            setattr(module, name, nn.Parameter(storage, tensor.requires_grad)
                    if isinstance(tensor, nn.Parameter) else storage)
    data = example_input(spec, 0, "cpu")
    try:
        stats = torchinfo.summary(model, input_data=data, verbose=0, depth=depth, mode="eval")
    finally:
        clear_cached_forward_pass()  # torchinfo keeps every model it has seen
    for info in stats.summary_list:
        if not info.executed:
            continue
        size = info.output_size
        if not (isinstance(size, list) and size and size[0] == 0):
            raise ValueError(f"{info.class_name} output recorded as {size}; expected [0, ...]")
        info.output_size = [1, *size[1:]]
        info.macs = 0
        info.calculate_macs()
    one_sample = torchinfo.ModelStatistics(
        stats.summary_list, stats.input_size, stats.total_input, stats.formatting
    )
    return model, one_sample


def example_input(spec: Spec, batch: int, device: str) -> torch.Tensor:
    """A batch of ``batch`` samples of the spec's input: floats, or integer zeros (valid ids of
    any vocabulary) for ``input: {dtype: long}``."""
    shape = (batch, *spec.input)
    if spec.input_dtype == "long":
        return torch.zeros(shape, dtype=torch.long, device=device)
    return torch.empty(shape, device=device)


def _unbacked(tensor: torch.Tensor) -> torch.Tensor:
    """CPU storage of ``tensor``'s shape and dtype that nothing initialises, so no page is
    touched: reserved address space, not memory. Integer tensors (indices such as Swin's
    ``relative_position_index``, which a forward looks up even on an empty batch) are zeros,
    a valid index into any table."""
    storage = torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu")
    return storage if storage.is_floating_point() else storage.zero_()
