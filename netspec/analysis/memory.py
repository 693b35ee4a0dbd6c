"""Memory of a network, counted from its analysis: weights by dtype and activations. No torch.

What is counted, for the module ``netspec.build`` gives (float32 weights, torch's default):

- **parameters** and **buffers**, bytes by dtype: float32 weights and running statistics; a
  batch norm's ``num_batches_tracked`` is one int64.
- **activations per sample, inference**: the largest input plus output of any one layer (no
  autograd: a plain forward pass holds a layer's input while it writes its output, and frees it
  after). A branch that must wait for its merge (a residual shortcut) holds one more tensor;
  this figure leaves it out, so it is a lower bound for branched networks.
- **activations per sample, training**: the input plus the output of every layer (leaf
  modules), which is what autograd keeps for the backward pass, roughly: some layers keep less
  (an in-place ReLU), a few keep more (a merge's inputs).
- **for a batch of N**: weights once, activations N times; training adds one gradient per
  trainable parameter (an optimizer's own state, such as Adam's two moments, is not counted).

torchinfo's estimate ("Forward/backward pass size") is twice the outputs of the layers that
have parameters, and its "Params size" the parameters alone; the confirmation reports it
beside these figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING, Any

from netspec.layers.base import LayerReport

if TYPE_CHECKING:
    from netspec.analysis.analysis import Report

DTYPE_BYTES = {"float32": 4, "int64": 8}
ACTIVATION_DTYPE = "float32"


@dataclass(frozen=True)
class Memory:
    """Bytes of a network's weights and activations (module docstring: what each counts)."""

    parameter_bytes: dict[str, int]
    buffer_bytes: dict[str, int]
    gradient_bytes: int
    input_bytes: int
    inference_bytes: int
    training_bytes: int
    batch: int = 1

    @property
    def weight_bytes(self) -> int:
        return sum(self.parameter_bytes.values()) + sum(self.buffer_bytes.values())

    @property
    def batch_inference_bytes(self) -> int:
        """Weights, and the batch's inference activations."""
        return self.weight_bytes + self.batch * self.inference_bytes

    @property
    def batch_training_bytes(self) -> int:
        """Weights, gradients, and the batch's training activations."""
        return self.weight_bytes + self.gradient_bytes + self.batch * self.training_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameter_bytes": dict(self.parameter_bytes),
            "buffer_bytes": dict(self.buffer_bytes),
            "gradient_bytes": self.gradient_bytes,
            "input_bytes_per_sample": self.input_bytes,
            "inference_activation_bytes_per_sample": self.inference_bytes,
            "training_activation_bytes_per_sample": self.training_bytes,
            "batch": self.batch,
            "batch_inference_bytes": self.batch_inference_bytes,
            "batch_training_bytes": self.batch_training_bytes,
        }


def memory(report: Report, batch: int = 1) -> Memory:
    """The memory of ``report``'s network for one sample and for a batch of ``batch``."""
    element = DTYPE_BYTES[ACTIVATION_DTYPE]
    leaves = leaf_rows(report.layers)
    buffers: dict[str, int] = {}
    for row in leaves:
        if row.layer is None or not row.buffers:
            continue
        for dtype, count in row.layer.buffer_dtypes(row.in_shape).items():
            buffers[dtype] = buffers.get(dtype, 0) + count * DTYPE_BYTES[dtype]
    params = {ACTIVATION_DTYPE: report.params * element} if report.params else {}
    input_elements = prod(report.input_shape)
    largest = max((prod(row.in_shape) + prod(row.out_shape) for row in leaves),
                  default=input_elements)
    kept = input_elements + sum(prod(row.out_shape) for row in leaves)
    return Memory(params, buffers, report.trainable_params * element, input_elements * element,
                  largest * element, kept * element, batch)


def leaf_rows(rows: Sequence[LayerReport]) -> list[LayerReport]:
    """Rows with no nested rows under them: the ones that become leaf torch modules."""
    return [
        row for i, row in enumerate(rows) if i + 1 == len(rows) or rows[i + 1].depth <= row.depth
    ]


def megabytes(count: int) -> str:
    """``46.76 MB``: decimal megabytes, as torchinfo prints them."""
    return f"{count / 10**6:,.2f} MB"
