"""Every spec in ``specs/`` loads, analyses, builds, runs, round-trips and summarises.

The tests are parameterised over the directory listing, so a new spec is tested for free. The
analysis is compared with torch layer by layer: parameter counts on a model built on the meta
device (no weight memory, so VGG costs nothing), every layer's output shape from a meta forward
pass, and, for the small specs, the output of a real forward pass on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

import netspec

SPECS = Path(__file__).resolve().parent.parent / "specs"
SPEC_FILES = sorted(SPECS.glob("*.yaml"))
IDS = [path.stem for path in SPEC_FILES]

# A real CPU forward pass for specs up to this many multiply-accumulates (VGG is ~10 G).
CPU_FORWARD_MACS = 1_000_000_000


def test_the_bundled_specs_are_there() -> None:
    expected = {
        "seed_conv", "lenet5", "mlp_mnist", "alexnet", "vgg11", "vgg16", "nin",
        "audio_cnn_1d", "volume_cnn_3d", "receptive_field", "receptive_field_7x7",
    }
    assert expected <= set(IDS)


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_spec_file_is_documented_and_named_after_its_file(path: Path) -> None:
    """A comment header says what the network is and where it comes from."""
    text = path.read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    assert len(header) >= 2, f"{path.name}: start with a comment saying what and from where"
    assert netspec.load(path).name == path.stem


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_spec_loads_and_analyses(path: Path) -> None:
    """Input and output shapes and the row count against the file itself and torch."""
    raw = yaml.safe_load(path.read_text())["input"]
    written = raw["shape"] if isinstance(raw, dict) else raw  # input: {shape, dtype: long}
    spec = netspec.load(path)
    report = netspec.analyze(spec)
    if all(isinstance(size, int) for size in written):  # else sizes given by parameters
        assert list(report.input_shape) == written
    model = netspec.build(spec, device="meta")
    assert len(report.top_level()) == len(list(model.children()))
    with torch.no_grad():
        out = model.eval()(sample(spec))
    assert report.output_shape == tuple(out.shape[1:])
    assert all(row.params >= 0 and row.macs >= 0 for row in report.layers)


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_spec_round_trips_through_yaml(path: Path) -> None:
    spec = netspec.load(path)
    text = spec.to_yaml()
    again = netspec.load(text)
    assert again == spec
    assert again.to_yaml() == text


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_built_model_matches_the_analysis_layer_by_layer(path: Path) -> None:
    spec = netspec.load(path)
    report = netspec.analyze(spec)
    model = netspec.build(spec, device="meta")
    rows = report.top_level()
    names = [layer.name or str(index) for index, layer in enumerate(spec.layers)]
    assert [name for name, _ in model.named_children()] == names
    ids = spec.input_dtype == "long"  # token ids (text_classifier)
    x = torch.zeros(1, *spec.input, device="meta", dtype=torch.long if ids else None)
    with torch.no_grad():
        for row, (name, module) in zip(rows, model.named_children(), strict=True):
            assert sum(p.numel() for p in module.parameters()) == row.params, name
            trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
            assert trainable == row.trainable_params, name
            assert sum(b.numel() for b in module.buffers()) == row.buffers, name
            x = module.eval()(x)
            assert tuple(x.shape[1:]) == row.out_shape, f"{name}: {row.kind}"
    assert sum(p.numel() for p in model.parameters()) == report.params


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_small_spec_runs_on_the_cpu(path: Path) -> None:
    spec = netspec.load(path)
    report = netspec.analyze(spec)
    if report.macs > CPU_FORWARD_MACS:
        pytest.skip(f"{report.macs:,} MACs: checked on the meta device only")
    torch.manual_seed(0)
    model = netspec.build(spec).eval()
    assert isinstance(model, nn.Sequential)
    with torch.no_grad():
        data = (torch.randint(0, 2, (2, *spec.input)) if spec.input_dtype == "long"
                else torch.randn(2, *spec.input))
        out = model(data)
    assert tuple(out.shape) == (2, *report.output_shape)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_spec_summarises(path: Path) -> None:
    spec = netspec.load(path)
    summary = netspec.summary(spec)
    assert summary.confirmed
    model = netspec.build(spec, device="meta")
    params = sum(p.numel() for p in model.parameters())
    assert summary.report.params == params
    with torch.no_grad():
        out = model.eval()(sample(spec))
    assert summary.report.output_shape == tuple(out.shape[1:])
    table = str(summary)
    assert f"{params:,}" in table  # torch's count, as the table prints it


def test_build_stays_the_public_function_after_first_use() -> None:
    """``netspec.build`` is a function on every access, not only the first.

    Importing the submodule ``netspec.build`` (which the lazy ``__getattr__`` does on first use)
    binds the package attribute ``build`` to the submodule, shadowing the function.
    """
    first = netspec.build
    second = netspec.build
    assert callable(first)
    assert callable(second), f"second access gave {second!r}"
    assert first is second


def test_summary_stays_the_public_function_after_first_use() -> None:
    first = netspec.summary
    second = netspec.summary
    assert callable(second), f"second access gave {second!r}"
    assert first is second


@pytest.mark.parametrize("path", SPEC_FILES, ids=IDS)
def test_spec_checks_without_a_warning(path: Path) -> None:
    """A bundled spec has nothing a careful practitioner would change: ``netspec check`` prints
    no warning (notes are ``summary --notes``'s), and a published network's deliberate choice is
    silenced in the spec with a comment saying so."""
    spec = netspec.load(path)
    assert [str(found) for found in netspec.lint(spec) if found.is_warning] == []


def sample(spec: netspec.Spec) -> torch.Tensor:
    """One sample of the spec's input on the meta device: token ids (zeros) or floats."""
    if spec.input_dtype == "long":
        return torch.zeros(1, *spec.input, dtype=torch.long, device="meta")
    return torch.empty(1, *spec.input, device="meta")
