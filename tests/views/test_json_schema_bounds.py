"""Every numeric bound a kind enforces is in the JSON Schema, kind by kind, field by field.

For each kind and each numeric field (an int or a float, alone or per axis), values on both
sides of the usual bounds (0, 1, the 2^48 ceiling, a Repeat's 1000...) go through the kind's
pydantic model and through the JSON Schema. Where pydantic rejects the value at that field (a
``Field`` constraint or a field validator: Dropout's ``p`` in [0, 1], BatchNorm's ``eps > 0``,
positive sizes), the schema must reject it too; where pydantic accepts it, the schema must
accept it. Rules between fields (``groups`` dividing ``out_channels``, a pool's padding at most
half its kernel) are located on the model, not the field, and are left to ``netspec check``.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from pydantic import ValidationError

import netspec
from netspec.layers.registry import kind_of, registered_kinds

SCHEMA = netspec.schema()
DEFINITIONS = SCHEMA["definitions"]
VALIDATOR = Draft7Validator(SCHEMA)
LIMIT = 2**48
INTS = [-LIMIT - 1, -LIMIT, -2, -1, 0, 1, 2, 3, 1000, 1001, LIMIT, LIMIT + 1]
FLOATS = [-1.0, -1e-9, 0.0, 1e-9, 0.5, 1.0, 1.0 + 1e-9, 1.5, 2.0, LIMIT + 0.5, 1e300]

# Kinds whose docstring example does not stand alone (or that have none but need arguments).
BASES: dict[str, dict[str, Any]] = {
    "Sequential": {"layers": ["ReLU"]},
    "Parallel": {"branches": [["ReLU"], ["ReLU"]]},
    "Residual": {"body": ["ReLU"]},
    "Linear": {"out_features": 4},
    "Unflatten": {"dim": 0, "unflattened_size": [2, 2]},
    **{f"Conv{r}d": {"out_channels": 4, "kernel_size": 3} for r in (1, 3)},
    **{f"ConvTranspose{r}d": {"out_channels": 4, "kernel_size": 3} for r in (1, 3)},
    **{f"{k}Pool{r}d": {"kernel_size": 2} for k in ("Max", "Avg") for r in (1, 2, 3)},
    **{f"Adaptive{k}Pool{r}d": {"output_size": 1} for k in ("Max", "Avg") for r in (1, 3)},
    "Chunk": {"chunks": 2, "index": 0},
    "Embedding": {"num_embeddings": 10, "embedding_dim": 4},
    "Gate": {"layers": ["Sigmoid"]},
    "MultiheadAttention": {"embed_dim": 8, "num_heads": 2},
    "Partition": {"partition_type": "window", "partition_size": 2, "layers": ["ReLU"]},
    "Permute": {"dims": [0, 1, 2]},
    "StochasticDepth": {"p": 0.5, "mode": "row"},
    "TransformerEncoderLayer": {"d_model": 8, "nhead": 2},
}


def base_arguments(name: str) -> dict[str, Any]:
    """Arguments that make a valid layer: ``BASES``, else the docstring's first example."""
    if name in BASES:
        return dict(BASES[name])
    doc = inspect.getdoc(kind_of(name)) or ""
    if "Example::" not in doc:
        return {}
    lines = doc.split("Example::", 1)[1].strip("\n").splitlines()
    entry = yaml.safe_load(lines[0].strip())[0]
    return dict(entry.get(name) or {}) if isinstance(entry, dict) else {}


def numeric_types(node: dict[str, Any]) -> set[str]:
    if "$ref" in node:
        return numeric_types(DEFINITIONS[node["$ref"].rsplit("/", 1)[-1]])
    kind = node.get("type", [])
    found = {kind} if isinstance(kind, str) else set(kind)
    found &= {"integer", "number"}
    for option in node.get("anyOf", []):
        found |= numeric_types(option)
    if isinstance(node.get("items"), dict):
        found |= numeric_types(node["items"])
    return found


def pydantic_verdict(name: str, args: dict[str, Any], field: str) -> bool | None:
    """True: accepted; False: rejected at ``field``; None: rejected by a rule between fields."""
    try:
        kind_of(name).model_validate(args)
    except ValidationError as error:
        at_field = all(detail["loc"][:1] == (field,) for detail in error.errors())
        return False if at_field else None
    return True


def schema_accepts(name: str, args: dict[str, Any]) -> bool:
    document = {"input": [1], "layers": [{name: args}]}
    return not any(True for _ in VALIDATOR.iter_errors(document))


KINDS = sorted(registered_kinds())


@pytest.mark.parametrize("name", KINDS)
def test_schema_bounds_agree_with_the_kind(name: str) -> None:
    base = base_arguments(name)
    assert pydantic_verdict(name, base, "") is True, f"no valid base arguments for {name}"
    assert schema_accepts(name, base)
    disagreements = []
    checked = 0
    for field, node in DEFINITIONS[name]["properties"].items():
        types = numeric_types(node)
        if not types:
            continue
        values: list[Any] = INTS + (FLOATS if "number" in types else [])
        for value in values:
            args = {**base, field: value}
            ours = pydantic_verdict(name, args, field)
            if ours is None:
                continue
            checked += 1
            if ours != schema_accepts(name, args):
                verdict = "accepts" if ours else "rejects"
                disagreements.append(f"{name}.{field}={value}: pydantic {verdict}, schema not")
    assert not disagreements, "\n".join(disagreements)
    if any(numeric_types(node) for node in DEFINITIONS[name]["properties"].values()):
        assert checked, f"{name}: every value tripped a rule between fields"


@pytest.mark.parametrize(
    ("name", "args", "field"),
    [
        pytest.param("Dropout", {"p": 1.5}, "p", id="Dropout p 1.5 (the issue's example)"),
        pytest.param("Dropout", {"p": 1.0 + 1e-9}, "p", id="Dropout p just above 1"),
        pytest.param("Dropout2d", {"p": -1e-9}, "p", id="Dropout2d p just below 0"),
        pytest.param("AlphaDropout", {"p": 2.0}, "p", id="AlphaDropout p 2"),
        pytest.param("BatchNorm2d", {"eps": 0.0}, "eps", id="BatchNorm2d eps 0"),
        pytest.param("BatchNorm1d", {"eps": -1e-9}, "eps", id="BatchNorm1d eps just below 0"),
        pytest.param("Conv2d", {"out_channels": 0, "kernel_size": 3}, "out_channels",
                     id="Conv2d out_channels 0"),
        pytest.param("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": -1}, "padding",
                     id="Conv2d padding -1"),
        pytest.param("MaxPool2d", {"kernel_size": [2, 0]}, "kernel_size",
                     id="MaxPool2d kernel 0 on one axis"),
        pytest.param("Linear", {"out_features": LIMIT + 1}, "out_features",
                     id="Linear out_features 2^48 + 1"),
        pytest.param("Upsample", {"scale_factor": float(LIMIT) * 2}, "scale_factor",
                     id="Upsample scale_factor above 2^48"),
        pytest.param("Repeat", {"times": 1001, "layers": ["ReLU"]}, "times",
                     id="Repeat times 1001"),
    ],
)
def test_values_just_outside_a_bound_fail_both(name: str, args: dict[str, Any], field: str) -> None:
    assert pydantic_verdict(name, args, field) is False
    assert not schema_accepts(name, args)


def test_instance_norm_eps_is_not_bounded() -> None:
    """torch's instance norm takes any eps (it is batch norm's training path that refuses
    eps <= 0); the schema accepts what the kind accepts."""
    assert pydantic_verdict("InstanceNorm2d", {"eps": 0.0}, "eps") is True
    assert schema_accepts("InstanceNorm2d", {"eps": 0.0})
