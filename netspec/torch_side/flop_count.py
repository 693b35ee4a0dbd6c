"""MACs that torchinfo cannot see, measured with ``torch.utils.flop_counter.FlopCounterMode``.

torchinfo charges a module one MAC per parameter element per sample, and walks into children.
That is no measure of attention: ``nn.MultiheadAttention`` multiplies its ``in_proj_weight``
by every token and its scores cost ``N^2 D``, none of which torchinfo counts; and
``nn.TransformerEncoderLayer`` runs its children inside one fused kernel, so their hooks never
fire. netspec treats these modules as leaves (one row each) and confirms their MACs with
``FlopCounterMode`` / 2 on one sample (``opaque_statistics``), run through an attention path it
counts:

- the fast path off (``torch.backends.mha.set_fastpath_enabled(False)``): in eval under
  ``no_grad`` both modules otherwise call ``torch._native_multi_head_attention`` /
  ``torch._transformer_encoder_layer_fwd``, fused kernels that FlopCounterMode has no formula
  for (it counts nothing at all, projections included);
- the math backend of ``scaled_dot_product_attention`` (``sdpa_kernel(SDPBackend.MATH)``):
  on the CPU the default is ``_scaled_dot_product_flash_attention_for_cpu``, which
  FlopCounterMode does not know either (it would miss ``Q K^T`` and ``A V``); the math path
  is plain ``bmm``.

Both switches are restored afterwards. ``nn.Embedding`` (a gather, 0 MACs; torchinfo charges
its table) is measured the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torchinfo
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode
from torchinfo.layer_info import LayerInfo

__all__ = ["OPAQUE", "counted_attention", "flop_macs", "opaque_statistics"]

OPAQUE = frozenset({"MultiheadAttention", "TransformerEncoderLayer", "Embedding",
                    "ShiftedWindowAttention", "PatchMerging",
                    "RelativePositionalMultiHeadAttention"})
"""Module classes that are one netspec row each and whose MACs FlopCounterMode confirms."""


@contextmanager
def counted_attention() -> Iterator[None]:
    """Attention through ops that ``FlopCounterMode`` counts (see the module notes)."""
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def flop_macs(module: nn.Module, example: torch.Tensor) -> int:
    """``FlopCounterMode`` total / 2 of ``module(example)``, attention counted in full."""
    counter = FlopCounterMode(display=False)
    with counted_attention(), counter, torch.no_grad():
        module(example)
    return int(counter.get_total_flops()) // 2


def opaque_statistics(
    stats: torchinfo.ModelStatistics, *, measure: bool = True
) -> torchinfo.ModelStatistics:
    """``stats`` with each ``OPAQUE`` module as one leaf: its children dropped, and with
    ``measure`` its MACs measured by ``flop_macs`` on one sample of its recorded input shape (ids
    for Embedding). The confirmation passes ``measure=False``: it has every module's MACs from
    one ``FlopCounterMode`` run over the whole model (``flops.flop_counter_macs``)."""
    kept: list[LayerInfo] = []
    inside: int | None = None
    changed = False
    for info in stats.summary_list:
        if inside is not None and info.depth > inside:
            continue
        inside = None
        kept.append(info)
        if info.class_name not in OPAQUE or not info.executed:
            continue
        inside = info.depth
        changed = True
        info.is_leaf_layer = True
        info.children = []
        if not measure:
            continue
        weight = next(info.module.parameters(), None)
        device = weight.device if weight is not None else torch.device("cpu")
        shape = (1, *_sizes(info.input_size)[1:])
        if info.class_name == "Embedding":
            example = torch.zeros(shape, dtype=torch.long, device=device)
        else:
            dtype = weight.dtype if weight is not None else torch.get_default_dtype()
            example = torch.zeros(shape, dtype=dtype, device=device)
        info.macs = flop_macs(info.module, example)
    if not changed:
        return stats
    return torchinfo.ModelStatistics(kept, stats.input_size, stats.total_input, stats.formatting)


def _sizes(size: object) -> list[int]:
    """torchinfo's recorded input size of a one-tensor call: ``[B, *sample]``."""
    if isinstance(size, list) and size and isinstance(size[0], list):
        size = size[0]
    if not isinstance(size, list) or not all(isinstance(n, int) for n in size):
        raise ValueError(f"input recorded as {size!r}; expected one batched tensor")
    return size
