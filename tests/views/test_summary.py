"""``netspec.summary``: sources, input override, the Summary object and its JSON."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import torchinfo

import netspec
from netspec.core.errors import SpecError
from netspec.reading.loader import SpecSource
from netspec.views.summary import SCHEMA_VERSION, Summary
from tests import conv_stack as expected

SPECS = sorted((Path(__file__).parents[2] / "specs").glob("*.yaml"))

LAYER_KEYS = {
    "index", "path", "name", "kind", "depth", "in_shape", "out_shape", "params",
    "trainable_params", "non_trainable_params", "buffers", "macs", "receptive_field",
}
TOTAL_KEYS = {
    "params", "trainable_params", "non_trainable_params", "buffers", "macs", "receptive_field",
}
TOP_KEYS = {
    "schema_version", "netspec_version", "confirmed_by", "confirmation", "name", "input_shape",
    "output_shape", "layers", "totals", "lints", "memory",
}


@pytest.fixture(scope="module")
def confirmed() -> Summary:
    return netspec.summary(expected.PATH)


def test_rows_match_hand_arithmetic(confirmed: Summary) -> None:
    rows = confirmed.report.layers
    assert [row.out_shape for row in rows] == expected.OUT_SHAPES
    assert [row.params for row in rows] == expected.PARAMS
    assert [row.trainable_params for row in rows] == expected.TRAINABLE
    assert [row.macs for row in rows] == expected.MACS
    assert [tuple(int(axis.size) for axis in row.rf) for row in rows] == expected.RF
    assert [tuple(int(axis.jump) for axis in row.rf) for row in rows] == expected.JUMP


def test_totals_match_hand_arithmetic(confirmed: Summary) -> None:
    report = confirmed.report
    assert report.params == expected.TOTAL_PARAMS
    assert report.trainable_params == expected.TOTAL_TRAINABLE
    assert report.non_trainable_params == expected.TOTAL_PARAMS - expected.TOTAL_TRAINABLE
    assert report.macs == expected.TOTAL_MACS
    assert report.output_shape == expected.OUT_SHAPES[-1]


def test_confirmed_by_torchinfo(confirmed: Summary) -> None:
    assert confirmed.confirmed
    assert confirmed.confirmed_by == f"torchinfo {torchinfo.__version__} and FlopCounterMode"


@pytest.mark.parametrize("form", ["path", "str path", "text", "dict", "spec"])
def test_every_source_gives_the_same_summary(form: str) -> None:
    text = expected.PATH.read_text()
    spec = netspec.load(expected.PATH)
    sources: dict[str, SpecSource] = {
        "path": expected.PATH,
        "str path": str(expected.PATH),
        "text": text,
        "dict": spec.to_data(),
        "spec": spec,
    }
    result = netspec.summary(sources[form], confirm=False)
    assert result.report.params == expected.TOTAL_PARAMS
    assert result.report.macs == expected.TOTAL_MACS


def test_input_shape_override() -> None:
    # 3x64x64: layer 0 keeps 64; layer 1 gives floor((64 - 3) / 2) + 1 = 31;
    # layer 2: 31 - 7 + 1 = 25 by 31 - 9 + 1 = 23; transposed: 2 * 25 = 50 by 46.
    result = netspec.summary(expected.PATH, input_shape=(3, 64, 64))
    assert result.report.input_shape == (3, 64, 64)
    assert result.report.output_shape == (4, 50, 46)
    assert result.report.params == expected.TOTAL_PARAMS  # weights do not depend on size
    assert result.confirmed


def test_input_shape_that_breaks_a_layer_is_a_located_spec_error() -> None:
    # layer 2 needs an effective kernel of 7x9 on the output of layer 1: 3x8x8 gives 3x3.
    with pytest.raises(SpecError) as caught:
        netspec.summary(expected.PATH, input_shape=(3, 8, 8))
    problem = caught.value.problems[0]
    assert problem.file == str(expected.PATH)
    assert problem.line == 8  # the line of layers[2] in the file
    assert "layers[2]" in str(problem)


@pytest.mark.parametrize("shape", [(), (3, 0, 8), (1, 2, 3, 4, 5, 6), (3, -1), (3.0, 8, 8)])
def test_invalid_input_shape_is_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(SpecError, match="an input shape is 1 to 5 positive sizes"):
        netspec.summary(expected.PATH, input_shape=shape)


def test_input_shape_with_the_wrong_rank_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="Conv2d expects one sample shaped"):
        netspec.summary(expected.PATH, input_shape=(3, 32))


def test_skipping_confirmation() -> None:
    result = netspec.summary(expected.PATH, confirm=False)
    assert not result.confirmed
    assert result.confirmed_by is None
    assert result.to_dict()["confirmed_by"] is None
    assert "Not confirmed" in result.to_table()


def test_str_is_the_table(confirmed: Summary) -> None:
    assert str(confirmed) == confirmed.to_table()


def test_json_schema_keys(confirmed: Summary) -> None:
    data = json.loads(confirmed.to_json())
    assert set(data) == TOP_KEYS
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert data["netspec_version"] == netspec.__version__
    assert data["confirmed_by"] == f"torchinfo {torchinfo.__version__} and FlopCounterMode"
    assert data["confirmation"]["confirmed_by"] == data["confirmed_by"]
    assert data["confirmation"]["torchinfo_mult_adds"] == expected.TORCHINFO_MULT_ADDS
    assert data["confirmation"]["torchinfo_params_bytes"] == 4 * expected.TOTAL_PARAMS
    assert data["name"] == "conv_stack"
    assert data["input_shape"] == [3, 32, 32]
    assert data["output_shape"] == [4, 18, 14]
    assert set(data["totals"]) == TOTAL_KEYS
    for layer in data["layers"]:
        assert set(layer) == LAYER_KEYS
        for axis in layer["receptive_field"]:
            assert set(axis) == {"size", "jump", "start"}


def test_json_content_matches_hand_arithmetic(confirmed: Summary) -> None:
    data = json.loads(confirmed.to_json())
    assert [layer["params"] for layer in data["layers"]] == expected.PARAMS
    assert [layer["macs"] for layer in data["layers"]] == expected.MACS
    assert [layer["name"] for layer in data["layers"]] == ["stem", "1", "2", "3"]
    assert data["totals"]["params"] == expected.TOTAL_PARAMS
    assert data["totals"]["trainable_params"] == expected.TOTAL_TRAINABLE
    assert data["totals"]["macs"] == expected.TOTAL_MACS
    assert data["totals"]["receptive_field"] == [
        {"size": size, "jump": jump, "start": start}
        for size, jump, start in zip(expected.RF[-1], expected.JUMP[-1], expected.START[-1],
                                     strict=True)
    ]
    for layer, sizes, jumps, starts in zip(
        data["layers"], expected.RF, expected.JUMP, expected.START, strict=True
    ):
        assert [(a["size"], a["jump"], a["start"]) for a in layer["receptive_field"]] == list(
            zip(sizes, jumps, starts, strict=True)
        ), layer["name"]


def test_json_is_the_dict(confirmed: Summary) -> None:
    assert json.loads(confirmed.to_json()) == confirmed.to_dict()
    assert "\n" not in confirmed.to_json(indent=None)


def _assert_totals_are_row_sums(result: Summary) -> None:
    top = [row for row in result.report.layers if row.depth == 0]
    totals = result.to_dict()["totals"]
    for key in ("params", "trainable_params", "non_trainable_params", "buffers", "macs"):
        assert totals[key] == sum(getattr(row, key) for row in top), key
    assert totals["params"] == totals["trainable_params"] + totals["non_trainable_params"]


def test_each_total_is_the_sum_of_its_rows(confirmed: Summary) -> None:
    _assert_totals_are_row_sums(confirmed)


@pytest.mark.parametrize("path", SPECS, ids=[path.stem for path in SPECS])
def test_each_total_is_the_sum_of_its_rows_for_every_bundled_spec(path: Path) -> None:
    _assert_totals_are_row_sums(netspec.summary(path, confirm=False))


def test_summary_is_part_of_the_public_api() -> None:
    assert "summary" in netspec.__all__
    assert "Summary" in netspec.__all__
    assert netspec.Summary is Summary
    # importing the submodules must not shadow the functions of the same names
    importlib.import_module("netspec.views.summary")
    importlib.import_module("netspec.torch_side.build")
    assert callable(netspec.summary)
    assert callable(netspec.build)
    assert isinstance(netspec.summary(expected.PATH, confirm=False), Summary)


DOCS = Path(__file__).parents[2] / "docs" / "json-format.md"


def test_documented_example_is_what_netspec_prints() -> None:
    text = DOCS.read_text()
    documented = json.loads(text.split("```json\n")[1].split("```")[0])
    spec = {"name": "example", "input": [1, 28, 28], "layers": [
        {"Conv2d": {"out_channels": 6, "kernel_size": 5, "padding": 2}},
        {"AvgPool2d": {"kernel_size": 2, "stride": 2}},
    ]}
    actual = netspec.summary(spec).to_dict()
    actual["layers"] = actual["layers"][:1]  # the example is shortened to its first layer
    documented["netspec_version"] = actual["netspec_version"]
    documented["confirmed_by"] = actual["confirmed_by"]
    documented["confirmation"]["confirmed_by"] = actual["confirmed_by"]
    documented["memory"] = actual["memory"]  # checked by tests/analysis/test_memory.py
    assert documented == actual


def test_every_key_is_documented(confirmed: Summary) -> None:
    text = DOCS.read_text()
    data = confirmed.to_dict()
    keys = set(data) | set(data["layers"][0]) | set(data["totals"]) | {"size", "jump", "start"}
    undocumented = sorted(key for key in keys if f"| `{key}` |" not in text)
    assert not undocumented, f"add these keys to {DOCS}: {undocumented}"


def test_notes_are_shown_on_request_and_always_in_the_json() -> None:
    """conv_stack drops row 31 (NS103) and ends on a map (NS107): two notes, no warning."""
    plain = netspec.summary(expected.PATH, confirm=False)
    assert "NS103" not in plain.to_table() and "Lint warnings" not in plain.to_table()
    noted = netspec.summary(expected.PATH, confirm=False, notes=True).to_table()
    assert "(note) NS103 layers[1] Conv2d" in noted and "(note) NS107" in noted
    assert "(note) NS103" in netspec.summary(expected.PATH, confirm=False, explain=True).to_table()
    severities = [(entry["code"], entry["severity"]) for entry in plain.to_dict()["lints"]]
    assert severities == [("NS103", "note"), ("NS107", "note")]
