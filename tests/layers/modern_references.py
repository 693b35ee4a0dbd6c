"""Plain-PyTorch reference blocks (torch only), written from the architectures as torchvision
builds them (torchvision/ops/misc.py SqueezeExcitation, ops/stochastic_depth.py,
models/shufflenetv2.py, models/convnext.py, models/efficientnet.py) without importing
torchvision or netspec, so that tests can compare netspec-built blocks with them.

Registration order follows torchvision's modules, so a block's parameters come in torchvision's
order. ConvNeXtBlock's ``layer_scale`` is the block's own parameter, so torchvision (and this
reference) list it BEFORE the block's children; netspec's ``LayerScale`` sits at the end of the
residual body, so there it comes after the last Linear: ``netspec_order`` gives the reference's
tensors in netspec's order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round to a multiple of `divisor`, never more than 10% down (torchvision's
    _make_divisible)."""
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


# --- stochastic depth --------------------------------------------------------------------------


def stochastic_depth(x: Tensor, p: float, mode: str = "row", training: bool = True) -> Tensor:
    """torchvision.ops.stochastic_depth semantics.

    Identity when not training or p == 0. Else each sample ("row": one draw per sample along
    dim 0) or the whole batch ("batch": one draw) is kept with probability 1 - p and scaled by
    1 / (1 - p) when kept, zeroed otherwise (p == 1: always zero).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1]; received {p}")
    if mode not in ("row", "batch"):
        raise ValueError(f"mode must be 'row' or 'batch'; received {mode!r}")
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    shape = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
    noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise


class StochasticDepth(nn.Module):
    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        return stochastic_depth(x, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"


# --- squeeze-and-excitation --------------------------------------------------------------------


class SqueezeExcitation(nn.Module):
    """x * gate(fc2(act(fc1(avgpool(x))))): a [C, 1, 1] scale per sample broadcast over H, W."""

    def __init__(
        self, channels: int, squeeze: int,
        activation: Callable[[], nn.Module] = nn.ReLU,
        gate: Callable[[], nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.activation = activation()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = gate()

    def forward(self, x: Tensor) -> Tensor:
        scale: Tensor = self.gate(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * scale


# --- ShuffleNetV2 ------------------------------------------------------------------------------


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """[N, g * c, H, W] -> channels interleaved: new channel i * g + j is old j * c + i."""
    n, channels, *spatial = x.shape
    x = x.reshape(n, groups, channels // groups, *spatial).transpose(1, 2)
    return x.reshape(n, channels, *spatial)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2's unit. Stride 1 (inp == out): x.chunk(2, 1); the first half passes, the
    second goes through branch2. Stride 2: branch1 and branch2 both take x. The halves are
    concatenated and shuffled in 2 groups. branch1: 3x3 depthwise (stride) + BN, 1x1 + BN + ReLU;
    branch2: 1x1 + BN + ReLU, 3x3 depthwise (stride) + BN, 1x1 + BN + ReLU. No conv has a bias."""

    def __init__(self, inp: int, out: int, stride: int) -> None:
        super().__init__()
        if stride == 1 and inp != out:
            raise ValueError("a stride-1 unit keeps its width: inp must equal out")
        half = out // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
            )
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half),
            nn.ReLU(),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            left, right = x.chunk(2, dim=1)
            out = torch.cat((left, self.branch2(right)), 1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        return channel_shuffle(out, 2)


# --- ConvNeXt ----------------------------------------------------------------------------------


class ConvNeXtBlock(nn.Module):
    """x + stochastic_depth(layer_scale * block(x)); block = 7x7 depthwise conv (bias), layer
    norm over channels (channels-last, eps 1e-6), Linear dim -> 4 dim, GELU, Linear back.
    layer_scale: a [dim, 1, 1] parameter filled with `layer_scale` (1e-6)."""

    def __init__(self, dim: int, layer_scale: float = 1e-6, p: float = 0.0) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), float(layer_scale)))
        self.stochastic_depth = StochasticDepth(p, "row")

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.dwconv(x).permute(0, 2, 3, 1)      # [N, H, W, C]
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        y = self.layer_scale * y.permute(0, 3, 1, 2)
        dropped: Tensor = self.stochastic_depth(y)
        return x + dropped


def netspec_order(module: nn.Module) -> list[Tensor]:
    """The module's state tensors in the order netspec registers them: a ConvNeXtBlock's
    layer_scale after its convolution and linears (netspec: LayerScale at the body's end)."""
    tensors: list[Tensor] = []

    def visit(m: nn.Module) -> None:
        own = [t for name, t in m.named_parameters(recurse=False) if name != "layer_scale"]
        tensors.extend(own)
        tensors.extend(b for b in m.buffers(recurse=False))
        for child in m.children():
            visit(child)
        if isinstance(m, ConvNeXtBlock):
            tensors.append(m.layer_scale)

    visit(module)
    return tensors


# --- EfficientNet ------------------------------------------------------------------------------


def conv_bn_act(
    inp: int, out: int, k: int = 1, stride: int = 1, groups: int = 1,
    act: Callable[[], nn.Module] | None = nn.SiLU, eps: float = 1e-5,
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(inp, out, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out, eps=eps),
    ]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """EfficientNet's MBConv: 1x1 expansion to make_divisible(inp * t) (none when that equals
    inp), k x k depthwise (stride), squeeze-excitation (squeeze max(1, inp // 4), SiLU, Sigmoid),
    linear 1x1 projection. When stride == 1 and inp == out, x + stochastic_depth(block(x)) (row
    mode, probability p); otherwise block(x) alone (the stochastic depth is never applied)."""

    def __init__(
        self, inp: int, out: int, k: int = 3, stride: int = 1, t: float = 6, p: float = 0.0,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and inp == out
        expanded = make_divisible(inp * t)
        layers: list[nn.Module] = []
        if expanded != inp:
            layers.append(conv_bn_act(inp, expanded, eps=eps))
        layers += [
            conv_bn_act(expanded, expanded, k, stride, groups=expanded, eps=eps),
            SqueezeExcitation(expanded, max(1, inp // 4), nn.SiLU, nn.Sigmoid),
            conv_bn_act(expanded, out, act=None, eps=eps),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(p, "row")

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.block(x)
        return x + self.stochastic_depth(y) if self.use_res_connect else y
