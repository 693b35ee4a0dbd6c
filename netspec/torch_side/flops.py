"""MACs as ``torch.utils.flop_counter.FlopCounterMode`` counts them on the built module.

netspec counts multiply-accumulates of matrix products only: convolutions without their bias,
linear layers at every position, matrix products. So does torch's ``FlopCounterMode``, in FLOPs
(two per multiply-accumulate); its count halved is what netspec's analysis must equal, per module
and in total. It runs on the meta device, on one sample: its formulas need shapes, not values
(a batch of zero samples would count zero), and the meta device allocates no weight or
activation memory, so VGG-16 costs what LeNet costs.

The ops ``FlopCounterMode`` has no formula for count zero; attention through a fused kernel it
cannot see into would be undercounted, so the count runs with the fast path off and the math
backend of ``scaled_dot_product_attention`` (``flop_count.counted_attention``): attention goes
through the plain matrix products, which it counts.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from netspec.reading.spec import Spec
from netspec.torch_side.build import build
from netspec.torch_side.flop_count import counted_attention


def flop_counter_macs(spec: Spec, input_shape: tuple[int, ...]) -> dict[str, int]:
    """MACs per module of the built spec for one sample, by module path (``""``: the whole
    network, ``"3"``, ``"3.body.0"``...), as ``FlopCounterMode`` counts them (FLOPs / 2)."""
    model = build(spec, device="meta").eval()
    dtype = torch.long if spec.input_dtype == "long" else None  # token ids: any, on meta
    return module_macs(model, torch.empty((1, *input_shape), dtype=dtype, device="meta"))


def module_macs(model: nn.Module, data: torch.Tensor) -> dict[str, int]:
    """``FlopCounterMode``'s FLOPs / 2 per module path of ``model`` on ``data``."""
    counter = FlopCounterMode(display=False)
    with counted_attention(), torch.no_grad(), counter:
        model(data)
    root = type(model).__name__
    macs = {"": int(counter.get_total_flops()) // 2}
    for name, counts in counter.get_flop_counts().items():
        if name.startswith(root + "."):
            macs[name[len(root) + 1:]] = int(sum(counts.values())) // 2
    return macs
