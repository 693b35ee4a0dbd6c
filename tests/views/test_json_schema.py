"""The JSON Schema (draft-07) of the spec format: current, valid, and in agreement with netspec.

Every spec that netspec loads must pass the schema (bundled specs, their expanded forms, random
specs); schema-level mistakes (an unknown kind or argument, a wrong type) must fail both. The
checked-in ``schema/netspec.schema.json`` is what ``netspec schema`` prints now; regenerate it
after changing a kind with ``netspec schema -o schema/netspec.schema.json`` (or
``NETSPEC_UPDATE_GOLDEN=1 pytest tests/views/test_json_schema.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft7Validator
from pydantic import ValidationError

import netspec
from netspec.layers.registry import registered_kinds
from netspec.reading.loader import read
from netspec.reading.spec import Spec
from netspec.reading.templates import expand_templates
from tests.golden_files import UPDATE
from tests.torch_side.test_roundtrip import specs as random_specs

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schema" / "netspec.schema.json"
HEADER = "# yaml-language-server: $schema=../schema/netspec.schema.json"
SPEC_FILES = sorted((ROOT / "specs").glob("*.yaml"))
OTHER_SPECS = sorted([*(ROOT / "examples").glob("*.yaml"), *(ROOT / "docs").glob("*.yaml")])
BAD_SPECS = ROOT / "tests" / "bad_specs"


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    return Draft7Validator(netspec.schema())


def problems(validator: Draft7Validator, data: Any) -> list[str]:
    """Every message of every error, nested ones (inside anyOf) included."""
    found: list[str] = []
    stack = list(validator.iter_errors(data))
    while stack:
        error = stack.pop()
        found.append(f"{list(error.absolute_path)}: {error.message}")
        stack.extend(error.context or ())
    return found


# --- the file and the headers ---


def test_checked_in_schema_is_current() -> None:
    text = json.dumps(netspec.schema(), indent=1, ensure_ascii=False) + "\n"
    if UPDATE:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
    assert SCHEMA_FILE.read_text(encoding="utf-8") == text, (
        "schema/netspec.schema.json is out of date; regenerate it with "
        "`netspec schema -o schema/netspec.schema.json` and review the diff"
    )


def test_schema_is_valid_draft_07() -> None:
    schema = netspec.schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(schema)
    text = json.dumps(schema)
    for newer in ("$defs", "prefixItems", "unevaluatedProperties", "dependentRequired"):
        assert newer not in text, f"{newer} is not draft-07"


def test_every_kind_and_argument_is_in_the_schema() -> None:
    definitions = netspec.schema()["definitions"]
    entry = definitions["layer"]["anyOf"][1]["properties"]
    for name, cls in registered_kinds().items():
        assert entry[name] == {"$ref": f"#/definitions/{name}"}
        arguments = definitions[name]
        assert set(arguments["properties"]) == set(cls.model_fields), name
        required = [key for key, info in cls.model_fields.items() if info.is_required()]
        assert arguments.get("required", []) == required, name
    conv = definitions["Conv2d"]["properties"]
    assert conv["stride"]["default"] == 1
    assert conv["kernel_size"]["description"].startswith("Kernel size")
    assert conv["padding"]["anyOf"][2] == {"enum": ["same", "valid"], "type": "string"}


@pytest.mark.parametrize("path", [*SPEC_FILES, *OTHER_SPECS],
                         ids=[p.name for p in [*SPEC_FILES, *OTHER_SPECS]])
def test_spec_names_the_schema_on_its_first_line(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == HEADER, f"{path.name}: make its first line `{HEADER}`"
    assert (path.parent / "../schema/netspec.schema.json").resolve() == SCHEMA_FILE


# --- valid specs pass ---


@pytest.mark.parametrize("path", [*SPEC_FILES, *OTHER_SPECS],
                         ids=[p.name for p in [*SPEC_FILES, *OTHER_SPECS]])
def test_spec_passes_the_schema(validator: Draft7Validator, path: Path) -> None:
    data, _ = read(path)  # as netspec reads YAML (1.2 booleans, no duplicate keys)
    assert problems(validator, data) == []
    expanded = netspec.load(path).to_data()  # params and blocks expanded: the strict schema
    assert problems(validator, expanded) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_specs())
def test_random_valid_specs_pass_the_schema(case: tuple[dict[str, Any], Any]) -> None:
    written, _ = case
    netspec.load(written)
    assert problems(Draft7Validator(SCHEMA), written) == []


SCHEMA = netspec.schema()


def test_expressions_and_blocks_pass_only_where_params_or_blocks_exist(
    validator: Draft7Validator,
) -> None:
    with_params = {
        "input": [3, "size", "size"],
        "params": {"width": 16, "size": 32},
        "blocks": {"Block": {"params": {"planes": None}, "layers": [
            {"Conv2d": {"out_channels": "planes", "kernel_size": [3, "1 + 2"], "padding": 1}}]}},
        "layers": [{"Block": {"planes": "2 * width"}}, "Block", "ReLU",
                   {"Linear": {"out_features": "max(width, 10)"}}],
    }
    assert problems(validator, with_params) == []
    without = {"input": [3, 32, 32], "layers": [{"Linear": {"out_features": "width"}}]}
    assert any("'width' is not of type 'integer'" in p for p in problems(validator, without))


# --- mistakes fail ---

BASE: dict[str, Any] = {"input": [3, 16, 16]}
MISTAKES: dict[str, tuple[dict[str, Any], str]] = {
    "unknown kind": ({**BASE, "layers": [{"Conv2D": {"out_channels": 3, "kernel_size": 3}}]},
                     "'Conv2D' was unexpected"),
    "unknown bare kind": ({**BASE, "layers": ["Relu"]}, "'Relu' is not one of"),
    "unknown argument": ({**BASE, "layers": [{"Conv2d": {"out_channels": 3, "kernal_size": 3}}]},
                         "'kernal_size' was unexpected"),
    "string for an int": ({**BASE, "layers": [{"Conv2d": {"out_channels": "8",
                                                          "kernel_size": 3}}]},
                          "'8' is not of type 'integer'"),
    "float for an int": ({**BASE, "layers": [{"Linear": {"out_features": 1.5}}]},
                         "1.5 is not of type 'integer'"),
    "bool for an int": ({**BASE, "layers": [{"Linear": {"out_features": True}}]},
                        "True is not of type 'integer'"),
    "wrong literal": ({**BASE, "layers": [{"Conv2d": {"out_channels": 3, "kernel_size": 3,
                                                      "padding": "full"}}]}, "'full' is not"),
    "one value per axis": ({**BASE, "layers": [{"Conv2d": {"out_channels": 3,
                                                           "kernel_size": [3, 3, 3]}}]},
                           "is too long"),
    "missing argument": ({**BASE, "layers": [{"Conv2d": {"out_channels": 3}}]},
                         "'kernel_size' is a required property"),
    "bare kind that needs arguments": ({**BASE, "layers": ["Conv2d"]}, "'Conv2d' is not one of"),
    "two kinds in one entry": ({**BASE, "layers": [{"ReLU": None, "Tanh": None}]},
                               "too many properties"),
    "zero channels": ({**BASE, "layers": [{"Conv2d": {"out_channels": 0, "kernel_size": 3}}]},
                      "less than or equal to the minimum of 0"),
    "unknown top-level key": ({**BASE, "layer": [], "layers": ["ReLU"]},
                              "'layer' was unexpected"),
    "no input": ({"layers": ["ReLU"]}, "'input' is a required property"),
    "empty branch": ({**BASE, "layers": [{"Parallel": {"branches": [["ReLU"], []]}}]},
                     "should be non-empty"),
    "unknown argument with params": ({**BASE, "params": {"w": 4}, "layers": [
        {"Conv2d": {"out_channels": "w", "kernal_size": 3}}]}, "'kernal_size' was unexpected"),
    "block named as a kind": ({**BASE, "blocks": {"ReLU": {"layers": ["Tanh"]}},
                               "layers": ["ReLU"]}, "should not be valid"),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_schema_level_mistakes_fail_both_the_schema_and_netspec(
    validator: Draft7Validator, name: str
) -> None:
    data, expected = MISTAKES[name]
    with pytest.raises(netspec.SpecError):
        netspec.load(data)
    found = problems(validator, data)
    assert any(expected in problem for problem in found), found


def _schema_level(data: Any, file: Path) -> bool:
    """True when netspec rejects ``data`` in its schema validation alone (types, names, keys),
    not in a rule that JSON Schema cannot express (shapes, custom validators, expressions)."""
    if not isinstance(data, dict):
        return False
    try:
        expanded, _ = expand_templates(data, {}, str(file), {})
        Spec.model_validate(expanded)
    except ValidationError as error:
        return all(_is_schema_error(detail) for detail in error.errors(include_url=False))
    except netspec.NetspecError:
        return False
    return False


SCHEMA_ERROR_TYPES = frozenset({
    "extra_forbidden", "missing", "int_type", "float_type", "bool_type", "string_type",
    "literal_error", "tuple_type", "too_short", "too_long", "greater_than",
    "greater_than_equal", "less_than_equal", "string_pattern_mismatch", "dict_type",
})


def _is_schema_error(detail: Any) -> bool:
    if detail["type"] in SCHEMA_ERROR_TYPES:
        return True
    message = str(detail.get("msg", ""))
    return detail["type"] == "value_error" and any(text in message for text in VALUE_ERRORS)


VALUE_ERRORS = (
    "unknown layer kind", "a layer is a bare kind name",
    # bounds a kind's validator enforces in its own words, carried by the schema (SchemaBounds)
    "must be between 0 and 1", "eps must be positive", "at most 2^48",
)


def bad_spec_files() -> list[Path]:
    return sorted(BAD_SPECS.rglob("*.yaml")) if BAD_SPECS.is_dir() else []


@pytest.mark.skipif(not bad_spec_files(), reason="no tests/bad_specs corpus")
@pytest.mark.parametrize("path", bad_spec_files(), ids=[p.name for p in bad_spec_files()])
def test_schema_level_mistakes_of_the_corpus_fail_the_schema(
    validator: Draft7Validator, path: Path
) -> None:
    try:
        data, _ = read(path)
    except netspec.NetspecError:
        pytest.skip("not YAML that netspec reads: nothing for a schema to check")
    if not _schema_level(data, path):
        pytest.skip("a mistake beyond JSON Schema (shapes, rules, expressions)")
    assert problems(validator, data), f"{path.name}: the schema accepts a schema-level mistake"


SCHEMA_LEVEL_BY_NAME = (
    "unknown_kind", "wrong_case_kind", "unknown_argument", "wrong_case_argument",
    "missing_required", "missing_input", "unknown_top_level_key", "wrong_type_bool",
    "wrong_type_float", "wrong_type_string", "yes_is_not_a_bool", "zero_size", "negative_size",
    "dropout_out_of_range",
)
"""Corpus specs whose one mistake is, by its name, a wrong name, type, sign or missing key."""


@pytest.mark.skipif(not bad_spec_files(), reason="no tests/bad_specs corpus")
def test_the_corpus_check_above_is_not_vacuous() -> None:
    """The skips above must not hide the cases the schema exists for."""
    for name in SCHEMA_LEVEL_BY_NAME:
        path = BAD_SPECS / f"{name}.yaml"
        data, _ = read(path)
        assert _schema_level(data, path), f"{name} is not classified as a schema-level mistake"


# --- the command ---


def test_schema_command_prints_the_file_without_importing_torch(tmp_path: Path) -> None:
    code = ("import sys\nfrom netspec.cli import main\n"
            f"status = main(['schema', '-o', {str(tmp_path / 's.json')!r}])\n"
            "assert 'torch' not in sys.modules, 'schema imported torch'\nsys.exit(status)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "s.json").read_text(encoding="utf-8") == SCHEMA_FILE.read_text(
        encoding="utf-8")
