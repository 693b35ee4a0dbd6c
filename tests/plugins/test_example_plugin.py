"""The example plugin (tests/plugins/netspec_example_plugin, docs/plugins.md), registered each
of the three ways, analysed, summarised with torchinfo's confirmation, drawn and exported.

Expected numbers are hand arithmetic for SPEC (tests/plugins/setup.py), input [3, 16, 16]:

    Conv2d 8, k3, p1   [8, 16, 16]   8*3*3*3 + 8 = 224        RF 3, jump 1
    GatedUnit 12       [12, 16, 16]  2*(8*12 + 12) = 216      RF 3 (pointwise), MACs unknown
    MaxPool2d 2        [12, 8, 8]    0                        RF 3 + 1*1 = 4, jump 2
    GatedUnit 4, bias: false [4, 8, 8]  2*(12*4) = 96         RF 4
    Flatten            [256]
    Linear 10          [10]          10*256 + 10 = 2570
    total params 224 + 216 + 96 + 2570 = 3106
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import netspec
from netspec import SpecError
from netspec.layers import registry
from netspec.views.summary import summary
from tests.plugins.setup import SPEC, forget_example

SHAPES = [(8, 16, 16), (12, 16, 16), (12, 8, 8), (4, 8, 8), (256,), (10,)]
PARAMS = [224, 2 * (8 * 12 + 12), 0, 2 * (12 * 4), 0, 2570]
TOTAL = 224 + 216 + 96 + 2570


def reference_gated(c: int, out: int, bias: bool) -> nn.Module:
    """A plain-PyTorch gated unit, written here: two linear maps over the channels."""
    return nn.ModuleList([nn.Linear(c, out, bias=bias), nn.Linear(c, out, bias=bias)])


def check_numbers(report: netspec.Report) -> None:
    assert [row.out_shape for row in report.layers] == SHAPES
    assert [row.params for row in report.layers] == PARAMS
    assert report.params == TOTAL
    references = [reference_gated(8, 12, True), reference_gated(12, 4, False)]
    assert [PARAMS[1], PARAMS[3]] == [sum(p.numel() for p in m.parameters()) for m in references]
    assert [row.macs is None for row in report.layers] == [False, True, False, True, False, False]
    assert report.macs is None
    fields = [[(a.size, a.jump) for a in row.rf] for row in report.layers[:4]]
    assert fields == [[(3, 1)] * 2, [(3, 1)] * 2, [(4, 2)] * 2, [(4, 2)] * 2]


# --- registered three ways ---


def test_registered_from_python(example: Any) -> None:
    assert registry.registered_class("GatedUnit") is example
    assert example.plugin == "netspec_example_plugin.kinds"
    check_numbers(netspec.analyze(netspec.load(SPEC)))


def test_registered_by_its_entry_point_when_a_spec_names_it(installed: Path) -> None:
    spec = netspec.load("input: [3, 8, 8]\nlayers: [ReLU]\n")  # names no unknown kind
    assert "netspec_example_plugin" not in sys.modules  # so nothing was loaded
    check_numbers(netspec.analyze(netspec.load(SPEC)))
    assert "netspec_example_plugin.kinds" in sys.modules
    assert netspec.analyze(spec).output_shape == (3, 8, 8)


def test_entry_point_kinds_are_listed_and_suggested(installed: Path) -> None:
    with pytest.raises(SpecError) as caught:
        netspec.load(SPEC.replace("GatedUnit: {out_channels: 12}", "GatedUnti: {out_channels: 12}"))
    assert "did you mean GatedUnit?" in str(caught.value)
    assert "GatedUnit" in registry.registered_kinds()


def test_a_spec_naming_it_unregistered_gets_the_located_plugin_hint() -> None:
    with pytest.raises(SpecError) as caught:
        netspec.load(SPEC)
    first = caught.value.problems[0]
    assert (first.line, first.column, first.path) == (5, 5, ("layers", 1))
    assert "unknown layer kind 'GatedUnit'" in first.message
    for way in ("netspec.register_kind", "netspec.kinds", "--plugin", "docs/plugins.md"):
        assert way in first.message


def test_a_broken_entry_point_says_why(installed: Path) -> None:
    (installed / "netspec_example_plugin-0.1.0.dist-info" / "entry_points.txt").write_text(
        "[netspec.kinds]\nGatedUnit = netspec_example_plugin.missing:GatedUnit\n")
    with pytest.raises(SpecError) as caught:
        netspec.load(SPEC)
    message = caught.value.problems[0].message
    assert "entry point 'netspec_example_plugin.missing:GatedUnit'" in message
    assert "ModuleNotFoundError" in message
    assert caught.value.problems[0].line == 5


# --- what it takes part in ---


def test_summary_is_confirmed_by_torchinfo_and_shows_unknown_macs(example: Any) -> None:
    result = summary(SPEC)
    assert result.confirmed_by is not None and result.confirmed_by.startswith("torchinfo")
    table = result.to_table()
    gated = [line for line in table.splitlines() if "GatedUnit" in line and line[0].isdigit()]
    assert len(gated) == 2 and all(" ? " in line for line in gated)
    assert re.search(r"MACs \(per sample\):\s+\? \(", table)
    data = json.loads(result.to_json())
    assert [row["macs"] for row in data["layers"]][1:4:2] == [None, None]
    assert data["totals"]["macs"] is None
    assert data["totals"]["params"] == TOTAL


def test_built_module_computes_the_gated_unit(example: Any) -> None:
    model = netspec.build(SPEC)
    gated = model[1]
    x = torch.randn(2, 8, 5, 5)
    value, gate = gated.value, gated.gate
    channels_last = x.permute(0, 2, 3, 1)
    expected = (channels_last @ value.weight.T + value.bias) * torch.sigmoid(
        channels_last @ gate.weight.T + gate.bias)
    assert torch.allclose(gated(x), expected.permute(0, 3, 1, 2), atol=1e-6)
    assert sum(p.numel() for p in model.parameters()) == TOTAL


def test_explain_shows_its_arithmetic(example: Any) -> None:
    text = summary(SPEC, confirm=False, explain=True).to_table()
    assert "params = 2*(8*12 + 12) = 216" in text
    assert "params = 2*(12*4) = 96" in text


def test_drawn(example: Any) -> None:
    svg = netspec.draw(SPEC)
    assert svg.count("GatedUnit") >= 2 and "<svg" in svg
    mermaid = netspec.draw(SPEC, format="mermaid")
    assert "GatedUnit" in mermaid


def test_exported_and_loaded_back(example: Any, tmp_path: Path) -> None:
    target = tmp_path / "gated.pt2"
    netspec.export(SPEC, target)
    loaded = torch.export.load(target).module()  # export compared it with the model already
    assert loaded(torch.randn(3, 3, 16, 16)).shape == (3, 10)


def test_schema_lists_it_with_its_fields(example: Any) -> None:
    text = json.dumps(netspec.schema())
    assert "GatedUnit" in text and "out_channels" in text and '"tanh"' in text


def test_registering_again_is_harmless_and_the_registry_stays_whole(example: Any) -> None:
    assert netspec.register_kind(example) is example
    forget_example()
    with pytest.raises(SpecError):
        netspec.load(SPEC)
    assert registry.registered_class("Conv2d") is not None


def test_written_in_python_and_back_to_yaml(example: Any) -> None:
    from netspec.layers import Conv2d

    spec = netspec.Spec(input=(3, 8, 8), layers=[
        Conv2d(out_channels=5, kernel_size=3), example(out_channels=2, gate="tanh")])
    assert netspec.load(spec.to_yaml()) == spec
    assert "- GatedUnit: {out_channels: 2, gate: tanh}\n" in spec.to_yaml()
    assert netspec.analyze(spec).output_shape == (2, 6, 6)


def test_input_sizes_pass_through_it(example: Any) -> None:
    """MaxPool2d(2) needs 2 rows and drops the odd one; the rest takes any size (Linear's
    in_features is inferred), so the valid sizes are n >= 2 and the exact ones the even n."""
    for axis in netspec.input_sizes(netspec.load(SPEC)):
        assert (axis.valid.smallest, axis.valid.period) == (2, 1)
        assert (axis.exact.smallest, axis.exact.period, axis.exact.residues) == (2, 2, (0,))


NESTED = """\
input: [3, 8, 8]
layers:
  - Residual:
      body:
        - GatedUnit: {out_channels: 3}
        - Sequential:
            layers: [GatedUnit: {out_channels: 3}, ReLU]
  - Conv2d: {out_channels: 2, kernel_size: 3}
"""


def test_inside_composites_confirmed_by_torchinfo(example: Any) -> None:
    """Its module's own Linear children are its business: torchinfo's leaves inside it are
    not matched against netspec's rows. 2*(3*3 + 3) = 24 per GatedUnit; 2*3*9 + 2 = 56."""
    result = summary(NESTED)
    assert result.confirmed_by is not None
    assert [row.params for row in result.report.layers] == [48, 24, 24, 24, 0, 56]
    assert [row.macs for row in result.report.layers][:4] == [None] * 4


def test_expectations_that_need_an_unknown_number_say_so(example: Any) -> None:
    from netspec.advice.expect import check_expectations

    text = SPEC + "expect: {max_macs: 1000000, params: 3106}\n"
    spec = netspec.load(text)
    problems = check_expectations(spec, netspec.analyze(spec))
    assert [p.path for p in problems] == [("expect", "max_macs")]
    assert "cannot be checked: a plugin kind" in problems[0].message
