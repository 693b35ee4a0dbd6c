"""The summary says why the network's receptive field is unknown: a plugin kind that does not
give it, or the netspec layer past which an axis can no longer be followed (``Flatten`` of
the channels with H, a channels-last concatenation of rows)."""

from __future__ import annotations

import netspec
from netspec.views.render import totals
from tests.plugins.kinds import Liar
from tests.plugins.setup import registered


def field_line(spec: dict[str, object]) -> str:
    report = netspec.analyze(netspec.load(spec))
    return dict(totals(report))["Receptive field"]


def test_a_plugin_kind_without_a_field_is_named_as_the_cause() -> None:
    with registered(Liar):
        line = field_line({"input": [3, 8, 8], "layers": ["Liar", "ReLU"]})
    assert line == "? (a plugin kind does not give it)"


def test_a_partial_flatten_is_named_as_the_cause() -> None:
    line = field_line({"input": [3, 8, 8], "layers": [
        "ReLU", {"Flatten": {"start_dim": 1, "end_dim": 2}}, "ReLU"]})
    assert line == "? (Flatten at layers[1] leaves an axis whose field cannot be followed)"


def test_the_innermost_cause_is_named_not_its_block() -> None:
    """The Flatten inside the Sequential, not the Sequential that holds it."""
    line = field_line({"input": [3, 8, 8], "layers": ["ReLU", {"Sequential": {"layers": [
        "ReLU", {"Flatten": {"start_dim": 1, "end_dim": 2}}]}}]})
    assert line == ("? (Flatten at layers[1].layers[1] leaves an axis whose field "
                    "cannot be followed)")


def test_a_merge_that_loses_the_field_is_named_when_no_layer_inside_did() -> None:
    """Rows of a channels-last map concatenated: the Parallel itself loses H."""
    row = {"Narrow": {"dim": 0, "start": 0, "length": 1}}
    line = field_line({"input": [4, 6, 6], "layers": [
        {"Permute": {"dims": [1, 2, 0]}},
        {"Parallel": {"merge": "concat", "branches": [[row], [row]]}}]})
    assert line == "? (Parallel at layers[1] leaves an axis whose field cannot be followed)"
