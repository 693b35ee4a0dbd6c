"""The positive linear stand-in of a built network, for the gradient harness
(``tests/gradient_support.py`` documents the method): every coefficient positive, so the
gradient of a unit is non-zero exactly where it depends on the input."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from netspec.torch_side import modules as netspec_modules

# --- turning a built network into a positive linear one ---


class MeanFeatures(nn.Module):
    """Each of ``out_features`` outputs is the mean of all input features (a positive Linear)."""

    def __init__(self, out_features: int) -> None:
        super().__init__()
        self.out_features = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        return mean.expand(*x.shape[:-1], self.out_features)


class TokenMix(nn.Module):
    """Attention's dependence, positive: every output is the mean of all tokens and features
    (``MultiheadAttention``, ``TransformerEncoderLayer``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2), keepdim=True).expand_as(x)


class SpatialMix(nn.Module):
    """Every position of a channels-last map ``[B, H, W, C]`` reads all of it (a superset of
    windowed attention's dependence; rows after it are not checked as windows)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x)


class GroupMix(nn.Module):
    """MaxViT's attention inside groups ``[B, G, S, D]``: each output reads its whole group."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x)


class PrependZero(nn.Module):
    """``ClassToken``'s dependence: a constant token (zeros) before the others."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.zeros_like(x[:, :1]), x], dim=1)


class WindowSum(nn.Module):
    """The sum over each window of a max pool (any dilation, padding and ``ceil_mode``)."""

    def __init__(self, pool: nn.modules.pooling._MaxPoolNd) -> None:
        super().__init__()
        self.pool = pool  # kept on the meta device, to give the output size
        self.rank = int(type(pool).__name__[-2])  # MaxPool2d -> 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rank, pool = self.rank, self.pool
        kernel, stride = _tuple(pool.kernel_size, rank), _tuple(pool.stride, rank)
        padding, dilation = _tuple(pool.padding, rank), _tuple(pool.dilation, rank)
        with torch.no_grad():
            out_size = pool(torch.empty(x.shape, device="meta")).shape[2:]
        pads: list[int] = []
        for k, s, p, d in reversed(list(zip(kernel, stride, padding, dilation, strict=True))):
            pads += [p, p + s + d * (k - 1)]  # room on the right for ceil_mode's last window
        channels = x.shape[1]
        weight = torch.ones(channels, 1, *kernel, dtype=x.dtype)
        conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
        y = conv(F.pad(x, pads), weight, stride=stride, dilation=dilation, groups=channels)
        return y[(..., *(slice(0, n) for n in out_size))]


def _tuple(value: int | tuple[int, ...], rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,) * rank


KEPT = (
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.Flatten,
    nn.Unflatten,
    nn.Upsample,
    nn.ChannelShuffle,
    netspec_modules.Permute,
    netspec_modules.Chunk,
    netspec_modules.Narrow,
)


def positive_linear(module: nn.Module) -> nn.Module:
    """The module's positive linear stand-in (see the module docstring); containers (netspec's
    ``Residual`` and ``Parallel``, ``nn.Sequential``) keep their structure, children replaced."""
    if isinstance(module, nn.modules.conv._ConvNd):
        module = module.to_empty(device="cpu").to(torch.float64)
        with torch.no_grad():
            module.weight.fill_(1.0 / module.weight[0].numel())
            if module.bias is not None:
                module.bias.zero_()
        return module.requires_grad_(False)
    if isinstance(module, nn.Linear):
        return MeanFeatures(module.out_features)
    if isinstance(module, netspec_modules.MultiheadAttention | nn.TransformerEncoderLayer):
        return TokenMix()
    if isinstance(module, netspec_modules.ShiftedWindowAttention):
        return SpatialMix()  # its rows are bounds, not windows: breaks_exactness skips them
    if isinstance(module, netspec_modules.RelativePositionalMultiHeadAttention):
        return GroupMix()
    if isinstance(module, netspec_modules.ClassToken):
        return PrependZero()
    if isinstance(module, netspec_modules.SelectToken | netspec_modules.TokenMean):
        return module
    if isinstance(module, nn.modules.pooling._MaxPoolNd):
        return WindowSum(module)
    if isinstance(module, nn.modules.pooling._AdaptiveMaxPoolNd):
        return getattr(nn, type(module).__name__.replace("Max", "Avg"))(module.output_size)
    if isinstance(module, KEPT):
        return module
    if next(module.children(), None) is not None:
        for name, child in list(module.named_children()):
            module._modules[name] = positive_linear(child)
        return module
    return nn.Identity()  # pointwise: activations, dropout, norms


def breaks_exactness(module: nn.Module, in_shape: tuple[int, ...]) -> bool:
    """After this module (a row of the spec) the field is no longer an exact integer window.

    Adaptive pools are checked against their input size at the top level; nested in a block,
    only global ones (output size 1) are taken as exact.
    """
    if isinstance(module, nn.modules.pooling._AdaptiveAvgPoolNd
                  | nn.modules.pooling._AdaptiveMaxPoolNd):
        rank = len(in_shape) - 1
        outs = _tuple(module.output_size, rank)
        return not all(
            _equal_windows(n, m if m is not None else n)
            for n, m in zip(in_shape[1:], outs, strict=True)
        )
    adaptive = (nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd)
    for inner in module.modules():
        if isinstance(inner, nn.modules.conv._ConvTransposeNd | nn.Upsample
                      | netspec_modules.ShiftedWindowAttention | netspec_modules.Partition):
            return True
        if isinstance(inner, adaptive) and set(_tuple(inner.output_size, 3)) != {1}:
            return True
    return False


def _equal_windows(size: int, out: int) -> bool:
    """Adaptive pooling's windows ``[floor(i n / m), ceil((i + 1) n / m))`` slide evenly."""
    if out == 1:
        return True
    starts = [(i * size) // out for i in range(out)]
    ends = [-(-((i + 1) * size) // out) for i in range(out)]
    widths = {e - s for s, e in zip(starts, ends, strict=True)}
    steps = {b - a for a, b in itertools.pairwise(starts)}
    return len(widths) == 1 and len(steps) == 1 and steps != {0}


def may_leave_holes(module: nn.Module, in_shape: tuple[int, ...]) -> bool:
    """Dilation, or a stride longer than the kernel, somewhere in this row can leave unseen
    pixels inside the window."""
    rank = len(in_shape) - 1
    windowed = (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd,
                nn.modules.pooling._AvgPoolNd)
    for inner in module.modules():
        if not isinstance(inner, windowed):
            continue
        kernel = _tuple(inner.kernel_size, rank)
        stride = _tuple(inner.stride or inner.kernel_size, rank)
        dilation = _tuple(getattr(inner, "dilation", 1), rank)
        if any(d > 1 or s > k for k, s, d in zip(kernel, stride, dilation, strict=True)):
            return True
    return False
