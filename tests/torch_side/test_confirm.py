"""Confirmation by torchinfo on a meta-device build: agreement, no weight memory, loud failures."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
import torchinfo
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.core.errors import ConfirmationError
from netspec.layers import Conv2d
from netspec.layers.base import TorchCall
from netspec.layers.registry import registered_kinds
from netspec.torch_side import build as build_module
from netspec.torch_side.confirm import confirm_report, leaf_rows
from tests import conv_stack as expected

SPECS = sorted((Path(__file__).parents[2] / "specs").glob("*.yaml"))


def one_conv(**args: Any) -> dict[str, Any]:
    return {"input": [3, 32, 32], "layers": [{"Conv2d": {"out_channels": 8, "kernel_size": 3,
                                                          "padding": 1, **args}}]}


# --- agreement ---


def test_conv_stack_numbers_equal_a_real_cpu_module() -> None:
    """The analysis (confirmed on meta) equals torch and torchinfo on real, allocated weights."""
    result = netspec.summary(expected.PATH)
    model = netspec.build(expected.PATH)
    x = torch.randn(1, 3, 32, 32)
    stats = torchinfo.summary(model, input_data=x, verbose=0)
    assert sum(p.numel() for p in model.parameters()) == result.report.params
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == (
        result.report.trainable_params
    )
    assert stats.total_mult_adds == expected.TORCHINFO_MULT_ADDS
    with FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() // 2 == result.report.macs == expected.TOTAL_MACS
    shape = x
    for module, row in zip(model, result.report.layers, strict=True):
        shape = module(shape)
        assert tuple(shape.shape[1:]) == row.out_shape


@pytest.mark.parametrize("path", SPECS, ids=[path.stem for path in SPECS])
def test_every_bundled_spec_is_confirmed(path: Path) -> None:
    result = netspec.summary(path)
    assert result.confirmed_by == f"torchinfo {torchinfo.__version__} and FlopCounterMode"


def test_confirmation_allocates_no_weights() -> None:
    """A 4096->4096 15x15 convolution has 3.8e9 parameters (15 GB in float32): built on the
    meta device, confirming it costs nothing."""
    spec = {"input": [4096, 16, 16], "layers": [{"Conv2d": {"out_channels": 4096,
                                                             "kernel_size": 15}}]}
    result = netspec.summary(spec)
    assert result.report.params == 4096 * 4096 * 225 + 4096
    assert result.report.output_shape == (4096, 2, 2)
    assert result.confirmed
    model = netspec.build(spec, device="meta")
    assert all(p.is_meta for p in model.parameters())


META_MODULES: list[tuple[nn.Module, tuple[int, ...]]] = [
    (nn.Conv2d(3, 4, 3, padding="same", padding_mode="reflect"), (3, 6, 6)),
    (nn.ConvTranspose3d(3, 4, 2, stride=2), (3, 3, 3, 3)),
    (nn.MaxPool2d(3, 2, 1, ceil_mode=True), (4, 9, 9)),
    (nn.AvgPool1d(3, 2, count_include_pad=False, padding=1), (4, 9)),
    (nn.AdaptiveAvgPool2d((3, 2)), (3, 7, 7)),
    (nn.AdaptiveMaxPool3d(2), (3, 5, 5, 5)),
    (nn.BatchNorm2d(3), (3, 5, 5)),
    (nn.InstanceNorm1d(3, affine=True, track_running_stats=True), (3, 5)),
    (nn.GroupNorm(2, 4), (4, 5, 5)),
    (nn.LayerNorm([5, 5]), (4, 5, 5)),
    (nn.LocalResponseNorm(2), (4, 5, 5)),
    (nn.Dropout2d(), (3, 4, 4)),
    (nn.AlphaDropout(), (3,)),
    (nn.PReLU(3), (3, 4, 4)),
    (nn.Softmax(dim=1), (3, 4)),
    (nn.Flatten(), (3, 4, 4)),
    (nn.Unflatten(1, (2, 2)), (4,)),
    (nn.Linear(4, 5), (3, 4)),
    (nn.Upsample(scale_factor=1.5, mode="bilinear"), (3, 4, 4)),
    (nn.Upsample(size=7, mode="bicubic", align_corners=True), (3, 4, 4)),
]


@pytest.mark.parametrize(
    ("module", "shape"), META_MODULES, ids=[type(m).__name__ for m, _ in META_MODULES]
)
def test_torchinfo_gives_the_same_numbers_on_meta_as_on_cpu(
    module: nn.Module, shape: tuple[int, ...]
) -> None:
    """The method itself: torchinfo 1.8 on meta tensors sees what it sees on real ones."""

    def run(model: nn.Module, device: str) -> list[tuple[Any, ...]]:
        data = torch.randn(1, *shape).to(device) if device == "cpu" else torch.empty(
            (1, *shape), device=device
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = torchinfo.summary(model, input_data=data, verbose=0, mode="eval")
        return [
            (info.class_name, info.output_size, info.num_params, info.macs)
            for info in stats.summary_list
        ] + [(stats.total_params, stats.trainable_params, stats.total_mult_adds)]

    cpu = run(nn.Sequential(module), "cpu")
    meta = run(nn.Sequential(module).to("meta"), "meta")
    assert meta == cpu


def test_composite_kinds_are_confirmed() -> None:
    kinds = registered_kinds()
    if not {"Residual", "Parallel", "Repeat", "Sequential", "BatchNorm2d"} <= set(kinds):
        pytest.skip("composite kinds are not registered")
    conv = {"Conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1}}
    spec = {"input": [3, 16, 16], "layers": [
        conv,
        {"Residual": {"body": [conv, "ReLU", conv], "shortcut": "identity", "post": ["ReLU"]}},
        {"Residual": {"body": [{"Conv2d": {"out_channels": 16, "kernel_size": 3, "stride": 2,
                                           "padding": 1}}]}},
        {"Repeat": {"times": 2, "layers": [{"Conv2d": {"out_channels": 16, "kernel_size": 1}}]}},
        {"Parallel": {"branches": [[{"Conv2d": {"out_channels": 4, "kernel_size": 1}}],
                                   [{"Conv2d": {"out_channels": 4, "kernel_size": 3,
                                                "padding": 1}}]]}},
        {"Sequential": {"name": "head", "layers": [{"Conv2d": {"out_channels": 2,
                                                               "kernel_size": 3}}]}},
    ]}
    result = netspec.summary(spec)
    assert result.confirmed
    model = netspec.build(spec)
    assert result.report.params == sum(p.numel() for p in model.parameters())
    assert result.report.buffers == sum(b.numel() for b in model.buffers())
    assert any(row.depth > 0 for row in result.report.layers)


def test_leaf_rows_are_the_rows_without_children() -> None:
    report = netspec.analyze(netspec.load(expected.PATH))
    assert leaf_rows(report) == list(report.layers)


# --- disagreement fails loudly ---


def test_a_wrong_parameter_count_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Conv2d.parameter_count
    monkeypatch.setattr(Conv2d, "parameter_count", lambda self, s: original(self, s) + 1)
    with pytest.raises(ConfirmationError) as caught:
        netspec.summary(one_conv())
    text = str(caught.value)
    # 8 * 3 * 9 + 8 = 224 parameters
    assert "layer 0 (Conv2d): parameters: netspec 225, torch 224" in text
    assert "total parameters: netspec 225, torch 224" in text


def test_a_wrong_output_shape_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Conv2d.output_shape

    def off_by_one(self: Conv2d, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        channels, *rest = original(self, in_shape)
        return (channels, *rest[:-1], rest[-1] + 1)

    monkeypatch.setattr(Conv2d, "output_shape", off_by_one)
    with pytest.raises(ConfirmationError, match=r"output shape: netspec \[8, 32, 33\], "
                                                r"torch \[8, 32, 32\]"):
        netspec.summary(one_conv())


def test_a_wrong_mac_count_raises_and_names_the_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Conv2d.macs
    monkeypatch.setattr(Conv2d, "macs", lambda self, i, o: original(self, i, o) - 1)
    with pytest.raises(ConfirmationError) as caught:
        netspec.summary(expected.PATH)
    problems = caught.value.problems
    named = [p for p in problems if "layer 0 (Conv2d 'stem'): MACs" in p.message]
    assert named and named[0].line == 6 and named[0].file == str(expected.PATH)
    # (8*32*32)*(3*3*3) = 221,184 and the total 577,152, one short per convolution
    assert "netspec 221183, torch 221184" in named[0].message
    assert any("total MACs: netspec 577149, torch 577152" in p.message for p in problems)


def test_a_wrong_trainable_split_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    real = build_module.build_layer

    def frozen_conv(layer: Any, in_shape: Any, **kwargs: Any) -> nn.Module:
        module: nn.Module = real(layer, in_shape, **kwargs)
        return module.requires_grad_(False) if isinstance(layer, Conv2d) else module

    monkeypatch.setattr(build_module, "build_layer", frozen_conv)
    with pytest.raises(ConfirmationError, match="trainable parameters: netspec 224, torch 0"):
        netspec.summary(one_conv())


def test_torch_failing_on_an_accepted_spec_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Conv2d, in_shape: Any, shape_after: Any) -> TorchCall:
        # wrong input channels: the forward fails
        return TorchCall("Conv2d", {"in_channels": in_shape[0] + 1, "out_channels": 8,
                                    "kernel_size": 3})

    monkeypatch.setattr(Conv2d, "torch_call", broken)
    with pytest.raises(ConfirmationError, match="torch could not build or run"):
        netspec.summary(one_conv())


def test_confirm_report_returns_the_versions_and_torchinfos_own_count() -> None:
    spec = netspec.load(expected.PATH)
    confirmed = confirm_report(spec, netspec.analyze(spec))
    assert confirmed.confirmed_by == f"torchinfo {torchinfo.__version__} and FlopCounterMode"
    assert confirmed.torchinfo_mult_adds == expected.TORCHINFO_MULT_ADDS


def test_torchs_own_warnings_are_not_shown(recwarn: pytest.WarningsRecorder) -> None:
    """An even kernel with padding 'same' makes torch warn about a padded copy; NS101 already
    says what matters, in netspec's words."""
    spec = {"input": [3, 16, 16], "lint_ignore": ["NS101"], "layers": [
        {"Conv2d": {"out_channels": 4, "kernel_size": 4, "padding": "same"}}]}
    assert netspec.summary(spec).confirmed
    assert [str(w.message) for w in recwarn if issubclass(w.category, UserWarning)] == []
