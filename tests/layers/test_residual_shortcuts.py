"""``Residual``'s shortcuts: what ``auto`` cannot project, what the built module holds, and the
body strides that decide the shortcut (remembered per body, so nested blocks stay linear).

Expected values come from torch's modules run in the test or from hand arithmetic beside them.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import netspec
from netspec.layers import AdaptiveAvgPool2d, Conv2d, ReLU, Upsample
from netspec.layers import branches as branches_module
from netspec.layers.base import Layer
from netspec.layers.branches import Residual


def problem_of(spec: Any) -> tuple[tuple[Any, ...], str]:
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.analyze(netspec.load(spec))
    first = caught.value.problems[0]
    return tuple(first.path), first.message


@pytest.mark.parametrize(("body", "out"), [
    # a transposed convolution of stride 2 doubles the map: a stride of 1/2, no 1x1 conv has it
    ([{"ConvTranspose2d": {"out_channels": 2, "kernel_size": 2, "stride": 2}}], [2, 8, 8]),
    # a flattened body has no spatial axes left to project onto
    (["Flatten"], [32]),
])
def test_auto_shortcut_that_cannot_project(body: list[Any], out: list[int]) -> None:
    path, message = problem_of({"input": [2, 4, 4], "layers": [{"Residual": {"body": body}}]})
    assert path == ("layers", 0, "Residual", "shortcut")
    assert message == (f"shortcut: auto cannot project [2, 4, 4] to {out}; write the shortcut "
                       "layers explicitly")


def test_shortcut_that_does_not_match_the_body() -> None:
    """A 3x3 convolution without padding takes 4x4 to 2x2; a ReLU shortcut keeps 4x4."""
    path, message = problem_of({"input": [2, 4, 4], "layers": [{"Residual": {
        "body": [{"Conv2d": {"out_channels": 2, "kernel_size": 3}}], "shortcut": ["ReLU"]}}]})
    assert path == ("layers", 0, "Residual", "shortcut")
    assert message == ("body gives [2, 2, 2] but shortcut gives [2, 4, 4]; they are added, so "
                       "they must match")


def test_misaligned_shortcut_message_names_body_and_shortcut() -> None:
    """Body 2x2/2: windows centred at 1/2; shortcut 1x1/2: at 0. Both jump 2, both 2x2."""
    path, message = problem_of({"input": [2, 4, 4], "layers": [{"Residual": {
        "body": [{"Conv2d": {"out_channels": 2, "kernel_size": 2, "stride": 2}}],
        "shortcut": [{"Conv2d": {"out_channels": 2, "kernel_size": 1, "stride": 2}}]}}]})
    assert path == ("layers", 0, "Residual")
    assert message == (
        "Residual merges misaligned receptive fields on spatial axis 0: body has jump 2 and "
        "centre 1/2, shortcut has jump 2 and centre 0; match their strides and paddings")


def build(residual: dict[str, Any], in_shape: list[int]) -> Any:
    model = netspec.build(netspec.load({"input": in_shape, "layers": [{"Residual": residual}]}))
    block = model[0]
    assert isinstance(block, nn.Module)
    return block


def test_identity_shortcut_builds_as_identity_and_no_post_as_none() -> None:
    block = build({"body": [{"Conv2d": {"out_channels": 2, "kernel_size": 3, "padding": 1}}]},
                  [2, 4, 4])
    assert type(block.shortcut) is nn.Identity
    assert block.post is None


def test_post_runs_after_the_addition() -> None:
    """``relu(conv(x) + x)``, computed here from the built convolution's own weights."""
    block = build({"body": [{"Conv2d": {"out_channels": 2, "kernel_size": 1}}],
                   "shortcut": "identity", "post": ["ReLU"]}, [2, 3, 3])
    x = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = torch.relu(block.body[0](x) + x)
        assert torch.equal(block(x), expected)


def test_post_is_built_for_the_bodys_shape() -> None:
    """The body widens 2 channels to 4 (projected shortcut); the post's batch norm gets 4."""
    block = build({"body": [{"Conv2d": {"out_channels": 4, "kernel_size": 1}}],
                   "post": ["BatchNorm2d"]}, [2, 3, 3])
    assert block.post[0].num_features == 4
    assert block(torch.zeros(2, 2, 3, 3)).shape == (2, 4, 3, 3)


def test_one_block_object_at_two_map_sizes_gets_each_maps_strides() -> None:
    """The same ``Residual`` (body: an adaptive pool to 4x4) first on a 4x4 map, where it keeps
    the shape with stride 1 (identity shortcut), then on 8x8, where the pool has stride 2 and
    the projection a 1x1 convolution of stride 2: 2x2 windows centred at 1/2 against 1x1
    windows at 0 (as an upsampled map sees them): misaligned. A stride remembered from the 4x4
    map would instead project at stride 1 and give 8x8."""
    block = Residual(body=[AdaptiveAvgPool2d(output_size=4)])
    spec = netspec.Spec(input=(2, 4, 4), layers=[block, Upsample(scale_factor=2), block])
    path, message = problem_of(spec)
    assert path[:3] == ("layers", 2, "Residual")
    assert message.startswith("Residual merges misaligned receptive fields on spatial axis 0: "
                              "body has jump 1 and centre")
    assert "shortcut has jump 1 and centre" in message


def nested(depth: int) -> Layer:
    """Residuals nested ``depth`` deep, each body keeping the shape (so ``auto`` asks its
    strides): the innermost body a 3x3 convolution padded 1, then ReLU."""
    layer: Layer = Residual(body=[Conv2d(out_channels=2, kernel_size=3, padding=1), ReLU()])
    for _ in range(depth - 1):
        layer = Residual(body=[layer, ReLU()])
    return layer


def test_nested_residuals_walk_each_body_for_its_strides_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each block walks its body once for its rows and once more for its strides; the inner
    blocks met on that second walk are remembered, so 10 nested blocks (the limit) cost a linear
    number of stride walks, not 2^10 (the docstring of ``_body_strides``)."""
    calls: list[int] = []
    walk = branches_module.walk  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return walk(*args, **kwargs)

    monkeypatch.setattr(branches_module, "walk", counting)
    report = netspec.analyze(netspec.Spec(input=(2, 5, 5), layers=[nested(10)]))
    assert report.output_shape == (2, 5, 5)
    assert len(calls) == 10
