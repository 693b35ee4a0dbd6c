"""Loading specs: safe YAML, located errors with received values and suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

import netspec
from netspec.core.errors import LimitError, SpecError

LENET_HEAD = "input: [1, 28, 28]\nlayers:\n"


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        netspec.load(text)
    return [str(problem) for problem in caught.value.problems]


def test_loads_from_text_dict_path_and_spec(tmp_path: Path) -> None:
    text = LENET_HEAD + "  - Conv2d: {out_channels: 6, kernel_size: 5, padding: 2}\n  - ReLU\n"
    path = tmp_path / "net.yaml"
    path.write_text(text)
    from_text = netspec.load(text)
    from_path = netspec.load(path)
    from_str_path = netspec.load(str(path))
    from_dict = netspec.load(
        {"input": [1, 28, 28], "layers": [{"Conv2d": {"out_channels": 6, "kernel_size": 5,
                                                       "padding": 2}}, "ReLU"]}
    )
    assert from_text == from_path == from_str_path == from_dict == netspec.load(from_dict)
    assert from_path.source.file == str(path)


def test_python_classes_write_the_same_spec() -> None:
    from netspec.layers import Conv2d, ReLU

    spec = netspec.Spec(input=(1, 28, 28), layers=[Conv2d(out_channels=6, kernel_size=5), ReLU()])
    text = LENET_HEAD + "  - Conv2d: {out_channels: 6, kernel_size: 5}\n  - ReLU\n"
    assert spec == netspec.load(text)
    assert netspec.load(spec.to_yaml()) == spec


def test_unknown_argument_is_located_with_suggestion() -> None:
    [message] = problems(LENET_HEAD + "  - Conv2d: {out_channels: 6, kernal_size: 5}\n")
    assert message.startswith("<spec>:3:")
    assert "layers[0].Conv2d" in message
    assert "did you mean kernel_size" in message


def test_every_schema_problem_is_reported_in_line_order(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        LENET_HEAD
        + "  - conv2d: {out_channels: 6, kernel_size: 5}\n"
        + "  - ReLU\n"
        + "  - Conv2d: {out_channels: 0, kernel_size: 3}\n"
    )
    found = problems(str(path))
    assert found[0].startswith(f"{path}:3:5: layers[0]: unknown layer kind 'conv2d'")
    assert "did you mean Conv2d" in found[0]
    assert found[1].startswith(f"{path}:5:")
    assert "out_channels" in found[1] and "received 0" in found[1]


def test_wrong_type_reports_received_value() -> None:
    [message] = problems(LENET_HEAD + "  - Conv2d: {out_channels: six, kernel_size: 3}\n")
    assert "layers[0].Conv2d.out_channels" in message and "'six'" in message


def test_missing_required_argument_names_it() -> None:
    [message] = problems(LENET_HEAD + "  - Conv2d: {out_channels: 6}\n")
    assert "layers[0].Conv2d.kernel_size: kernel_size is required for Conv2d" in message


def test_shape_error_names_layer_and_shapes() -> None:
    [message] = problems(
        LENET_HEAD
        + "  - Conv2d: {out_channels: 6, kernel_size: 5}\n"
        + "  - Conv2d: {out_channels: 6, kernel_size: 30}\n"
    )
    assert message.startswith("<spec>:4:")
    assert "layers[1].Conv2d" in message and "[6, 24, 24]" in message


def test_asserted_in_channels_must_agree() -> None:
    conv = "  - Conv2d: {in_channels: %d, out_channels: 6, kernel_size: 5}\n"
    [message] = problems(LENET_HEAD + conv % 3)
    assert "layers[0].Conv2d.in_channels" in message
    assert "must be 1" in message and "in_channels=3" in message
    ok = netspec.load(LENET_HEAD + conv % 1)
    assert ok.layers[0].in_channels == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("input: [1, 28, 28]\ninput: [1, 2, 2]\nlayers: [ReLU]\n", "duplicate key 'input'"),
        ("input: [1, 2]\nlayers: !!python/object/apply:os.system [ls]\n", "is not allowed"),
        ("input: [1, 2]\n\tlayers: [ReLU]\n", "YAML syntax error"),
        ("input: [1, 2\nlayers: [ReLU]\n", "YAML syntax error"),
        ("", "the spec is empty"),
        ("- ReLU\n", "a spec is a mapping"),
        ("input: [1, 28, 28]\nlayers: []\n", "at least one layer"),
        ("input: [1, 28, 28]\nlayerz: [ReLU]\n", "did you mean layers"),
    ],
)
def test_malformed_documents(text: str, expected: str) -> None:
    assert any(expected in message for message in problems(text))


def test_yaml_12_booleans_and_floats() -> None:
    from netspec.reading.yaml_source import parse_yaml

    data, positions = parse_yaml("a: off\nb: true\nc: 1e3\nd: 0x10\ne: ~\n", None)
    assert data == {"a": "off", "b": True, "c": 1000.0, "d": 16, "e": None}
    assert positions[("c",)] == (3, 1)


def test_alias_bomb_stops_early() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 9)]
    with pytest.raises(LimitError, match="more than"):
        netspec.load("\n".join(lines) + "\n")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(LimitError, match="deeper"):
        netspec.load("input: " + "[" * 100 + "]" * 100 + "\n")


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * 2_000_000 + "\n")
    with pytest.raises(LimitError, match="limit"):
        netspec.load(path)


def test_binary_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(SpecError):
        netspec.load(path)


def test_missing_file() -> None:
    with pytest.raises(SpecError, match="no such spec file"):
        netspec.load("does/not/exist.yaml")
