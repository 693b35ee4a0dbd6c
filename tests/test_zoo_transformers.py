"""The transformer specs: published counts, a plain-PyTorch reference ViT, MACs by hand.

Expected numbers come from outside netspec: torchvision's published figures for vit_b_16
(ViT_B_16_Weights.IMAGENET1K_V1: num_params 86,567,656, 17.564 GFLOPS, which torchvision
counts as FlopCounterMode / 2, i.e. multiply-accumulates of matrix products), hand arithmetic
written below, and ``tests.reference_vit`` (torchvision's ViT layout in plain PyTorch).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netspec
from tests.reference_vit import VisionTransformer, netspec_order

SPECS = Path(__file__).resolve().parent.parent / "specs"


def vit_params(layers: int, dim: int, mlp: int, tokens: int, patch: int, classes: int) -> int:
    """Conv patch embedding, class token, position embedding, blocks, final norm, head."""
    block = (2 * dim) + (4 * dim * dim + 4 * dim) + (2 * dim) + (dim * mlp + mlp + mlp * dim + dim)
    return (3 * patch * patch * dim + dim) + dim + tokens * dim + layers * block + 2 * dim + (
        dim * classes + classes)


def vit_macs(layers: int, dim: int, mlp: int, tokens: int, patch: int, classes: int) -> int:
    """Patch conv (no bias), per block 4 N D^2 + 2 N^2 D (attention) + 2 N D F (MLP), head."""
    grid = tokens - 1
    block = 4 * tokens * dim * dim + 2 * tokens * tokens * dim + 2 * tokens * dim * mlp
    return dim * 3 * patch * patch * grid + layers * block + dim * classes


def test_hand_counts_equal_torchvisions_published_vit_b_16() -> None:
    assert vit_params(12, 768, 3072, 197, 16, 1000) == 86_567_656
    assert round(vit_macs(12, 768, 3072, 197, 16, 1000) / 1e9, 3) == 17.564


@pytest.mark.parametrize(("name", "params", "output"), [
    ("vit_b_16", 86_567_656, (1000,)),                                # torchvision num_params
    ("vit_tiny_cifar", vit_params(6, 128, 256, 65, 4, 10), (10,)),
    ("text_classifier",  # embedding, 4 encoder layers (D 256, F 1024), LayerNorm, head
     10_000 * 256 + 4 * (4 * 256**2 + 2 * 256 * 1024 + 9 * 256 + 1024) + 2 * 256 + 256 * 4 + 4,
     (4,)),
])
def test_parameter_counts(name: str, params: int, output: tuple[int, ...]) -> None:
    spec = netspec.load(SPECS / f"{name}.yaml")
    report = netspec.analyze(spec)
    assert report.params == params and report.output_shape == output
    model = netspec.build(spec, device="meta")
    assert sum(p.numel() for p in model.parameters()) == params


def test_attention_macs_of_vit_b_16_equal_the_hand_count() -> None:
    """The attention rows: 12 x (4 N D^2 + 2 N^2 D), N = 197, D = 768."""
    report = netspec.analyze(netspec.load(SPECS / "vit_b_16.yaml"))
    attention = [row for row in report.layers if row.kind == "MultiheadAttention"]
    assert len(attention) == 12
    assert sum(row.macs for row in attention) == 12 * (4 * 197 * 768**2 + 2 * 197**2 * 768)


def test_vit_b_16_total_macs_are_torchvisions_once_linear_counts_every_token() -> None:
    """17,563,828,224 = the published 17.564 G, under the FlopCounterMode convention."""
    linear = netspec.analyze(netspec.load({"input": [2, 3], "layers": [
        {"Linear": {"out_features": 4}}]}))
    if linear.macs != 2 * 3 * 4:
        pytest.skip("Linear still counts torchinfo's way (once, with its bias): the switch of "
                    "the whole codebase to FlopCounterMode's convention is another change")
    report = netspec.analyze(netspec.load(SPECS / "vit_b_16.yaml"))
    assert report.macs == vit_macs(12, 768, 3072, 197, 16, 1000) == 17_563_828_224


def small_vit() -> tuple[netspec.Spec, VisionTransformer]:
    config = {"image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 2,
              "hidden_dim": 16, "mlp_dim": 24, "num_classes": 5}
    spec = netspec.load(SPECS / "vit_b_16.yaml", params={**config, "dropout": 0.0})
    return spec, VisionTransformer(**config)


def test_netspec_vit_weights_load_into_the_reference_and_back() -> None:
    torch.manual_seed(0)
    spec, reference = small_vit()
    model = netspec.build(spec).eval()
    reference.eval()
    ours = model.state_dict()
    keys = netspec_order(reference.state_dict())
    assert [tuple(t.shape) for t in ours.values()] == [
        tuple(reference.state_dict()[k].shape) for k in keys]
    reference.load_state_dict(dict(zip(keys, ours.values(), strict=True)))
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)
    # and the reverse: fresh reference weights, loaded into netspec's model by position
    fresh = VisionTransformer(32, 8, 2, 2, 16, 24, 5).eval()
    theirs = fresh.state_dict()
    model.load_state_dict(dict(zip(ours, (theirs[k] for k in netspec_order(theirs)),
                                   strict=True)))
    with torch.no_grad():
        torch.testing.assert_close(model(x), fresh(x), atol=1e-5, rtol=1e-5)


def test_vit_b_16_has_the_reference_structure_on_meta() -> None:
    """Every tensor of torchvision's vit_b_16 layout, in order (class token moved), same shape."""
    with torch.device("meta"):
        reference = VisionTransformer(224, 16, 12, 12, 768, 3072, 1000)
    model = netspec.build(SPECS / "vit_b_16.yaml", device="meta")
    theirs = reference.state_dict()
    assert [tuple(t.shape) for t in model.state_dict().values()] == [
        tuple(theirs[k].shape) for k in netspec_order(theirs)]
    assert len(theirs) == 152


def test_text_classifier_runs_on_ids_and_confirms() -> None:
    spec = netspec.load(SPECS / "text_classifier.yaml", params={"layers": 1})
    model = netspec.build(spec).eval()
    ids = torch.randint(0, 10_000, (2, 128))
    with torch.no_grad():
        assert model(ids).shape == (2, 4)
    summary = netspec.summary(spec)
    assert summary.confirmed
    assert summary.report.buffers == 128 * 256  # the sinusoidal table


def test_vit_tiny_cifar_summary_is_confirmed() -> None:
    summary = netspec.summary(SPECS / "vit_tiny_cifar.yaml")
    assert summary.confirmed
    rf = summary.report.rf
    assert [axis.size for axis in rf] == [32, 32]


def test_text_classifier_exports_with_integer_ids(tmp_path: Path) -> None:
    """The example batch of an id input holds ids below the vocabulary, not floats."""
    exported = netspec.export(SPECS / "text_classifier.yaml", tmp_path / "text.pt2",
                              params={"layers": 1})
    assert exported.verified and exported.max_difference is not None
    assert exported.max_difference < 1e-4
