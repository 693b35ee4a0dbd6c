"""Every problem at once, in line order; and the earlier layer to blame for a later failure."""

from __future__ import annotations

import pytest

import netspec
from netspec import LimitError, SpecError

HEAD = "input: [3, 32, 32]\nlayers:\n"


def messages(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        netspec.load(text)
    return [str(problem) for problem in caught.value.problems]


# --- all at once ---


def test_parameter_schema_and_shape_problems_together_by_line() -> None:
    found = messages(
        "input: [3, 32, 32]\n"                                        # 1
        "params: {width: 16}\n"                                       # 2
        "layers:\n"                                                   # 3
        "  - Conv2d: {out_channels: width, kernel_size: 3}\n"         # 4: 32 -> 30
        "  - Conv2d: {out_channels: 8, kernel_size: 31}\n"            # 5: 30 < 31
        "  - Conv2d: {out_channels: 2 * widht, kernel_size: 3}\n"     # 6
        "  - conv2d: {out_channels: 8, kernel_size: 3}\n"             # 7
    )
    assert [message.split(":")[1] for message in found] == ["5", "6", "7"]
    assert "the input [16, 30, 30] is too small for kernel_size=31" in found[0]
    assert "undefined parameter 'widht' in '2 * widht'; did you mean width?" in found[1]
    assert "unknown layer kind 'conv2d'; did you mean Conv2d?" in found[2]


def test_an_undefined_parameter_is_reported_once_not_again_as_a_type_error() -> None:
    [message] = messages(HEAD + "  - Conv2d: {out_channels: 2 * nope, kernel_size: 3}\n")
    assert "undefined parameter 'nope'" in message


def test_a_broken_block_is_reported_once_for_all_its_uses() -> None:
    found = messages(
        "input: [3, 32, 32]\n"
        "blocks:\n"
        "  Stage:\n"
        "    layers: [{Conv2d: {out_channels: wdth, kernel_size: 1}}]\n"
        "layers: [Stage, Stage, Stage, {Conv2d: {out_channels: 4, kernal_size: 1}}]\n"
    )
    assert len(found) == 2
    assert found[0].startswith("<spec>:4:")
    assert "out_channels" in found[0] and "'wdth'" in found[0]
    assert found[1].startswith("<spec>:5:") and "did you mean kernel_size?" in found[1]


def test_shapes_are_not_checked_past_a_broken_layer() -> None:
    """Layer 1 is broken, so the shape that layer 2 receives is unknown: no shape error."""
    [message] = messages(HEAD + "  - Conv2d: {out_channels: 8, kernal_size: 3}\n"
                         "  - Conv2d: {out_channels: 8, kernel_size: 99}\n")
    assert "kernal_size" in message


def test_no_shape_check_when_the_input_is_broken() -> None:
    [message] = messages("input: [3, 0, 32]\nlayers:\n"
                         "  - Conv2d: {out_channels: 8, kernel_size: 99}\n")
    assert message.startswith("<spec>:1:") and "greater than 0" in message


def test_every_yaml_level_problem_at_once() -> None:
    found = messages(
        "name: a\n"
        "input: [3, 32, 32]\n"
        "name: b\n"
        "layers:\n"
        "  - !!python/object/apply:os.system [ls]\n"
        "  - Conv2d: {out_channels: 8, kernel_size: 3, kernel_size: 5}\n"
    )
    assert [message.split(":")[1] for message in found] == ["3", "5", "6"]
    assert "duplicate key 'name' (first at line 1)" in found[0]
    assert "YAML tag !!python/object/apply:os.system is not allowed" in found[1]
    assert "duplicate key 'kernel_size' (first at line 6)" in found[2]


def test_a_limit_stops_at_once() -> None:
    """Past a limit nothing more is read: the only problem is the limit."""
    bomb = "a: &a [" + ", ".join(["x"] * 400) + "]\nb: &b [" + ", ".join(["*a"] * 400) + "]\n"
    with pytest.raises(LimitError) as caught:
        netspec.load(bomb + HEAD + "  - conv2d\n")
    [problem] = caught.value.problems
    assert "more than 100,000 values" in problem.message


# --- the fix in the message ---


def test_linear_without_flatten_says_add_flatten() -> None:
    [message] = messages(
        "input: [64, 7, 7]\nlayers:\n  - Linear: {in_features: 3136, out_features: 10}\n"
    )
    assert "Linear receives 64x7x7: add Flatten first; in_features would be 3136" in message
    assert message.startswith("<spec>:3:14: layers[0].Linear.in_features: ")


def test_linear_with_a_wrong_in_features_on_a_feature_map() -> None:
    [message] = messages(
        "input: [64, 7, 7]\nlayers:\n  - Linear: {in_features: 100, out_features: 10}\n"
    )
    assert "must be 7 (Linear acts on the last dim); received in_features=100" in message
    assert "After Flatten it would be 3136" in message  # 64 * 7 * 7


def test_linear_on_a_feature_map_is_legal_as_in_torch() -> None:
    spec = netspec.load("input: [64, 7, 7]\nlayers:\n  - Linear: {out_features: 10}\n")
    assert netspec.analyze(spec).output_shape == (64, 7, 10)


# --- the earlier layer to blame ---


def test_collapse_names_the_layer_after_which_the_size_was_too_small() -> None:
    # 32 -> pool 16 -> pool 8 -> conv5 4 -> pool 2: a 3x3 kernel fits 4 but not 2
    [message] = messages(
        HEAD
        + "  - MaxPool2d: {kernel_size: 2}\n"
        + "  - MaxPool2d: {kernel_size: 2}\n"
        + "  - Conv2d: {out_channels: 8, kernel_size: 5}\n"
        + "  - MaxPool2d: {kernel_size: 2}\n"
        + "  - Conv2d: {out_channels: 8, kernel_size: 3}\n"
    )
    assert message.startswith("<spec>:7:31: layers[4].Conv2d.kernel_size: ")
    assert message.endswith("; earlier, layers[3] (MaxPool2d) took the spatial size from 4x4 "
                            "to 2x2")


def test_collapse_also_names_the_largest_reduction() -> None:
    # 64 -> stride-8 conv: 8 (64x fewer positions) -> 6 -> 4 -> 2: a 5x5 kernel fits 6, not 4
    [message] = messages(
        "input: [3, 64, 64]\nlayers:\n"
        + "  - Conv2d: {out_channels: 8, kernel_size: 8, stride: 8}\n"
        + "  - Conv2d: {out_channels: 8, kernel_size: 3}\n" * 3
        + "  - Conv2d: {out_channels: 8, kernel_size: 5}\n"
    )
    assert message.endswith(
        "; earlier, layers[2] (Conv2d) took the spatial size from 6x6 to 4x4; the largest "
        "reduction is layers[0] (Conv2d), from 64x64 to 8x8"
    )


def test_an_early_flatten_is_named() -> None:
    [message] = messages(HEAD + "  - Flatten\n  - Conv2d: {out_channels: 8, kernel_size: 3}\n")
    assert message.endswith(
        "; earlier, layers[0] (Flatten) turned [3, 32, 32] into [3072]; this layer would take "
        "[3, 32, 32]"
    )


def test_the_cause_inside_a_composite_is_named_there() -> None:
    [message] = messages(
        "input: [3, 16, 16]\nlayers:\n  - Residual:\n      body:\n"
        "        - MaxPool2d: {kernel_size: 4}\n"
        "        - Conv2d: {out_channels: 3, kernel_size: 5}\n"
    )
    assert message.startswith("<spec>:6:37: layers[0].Residual.body[1].Conv2d.kernel_size: ")
    assert message.count("earlier") == 1
    assert message.endswith("; earlier, layers[0].body[0] (MaxPool2d) took the spatial size "
                            "from 16x16 to 4x4")


def test_no_blame_when_the_input_itself_is_too_small() -> None:
    [message] = messages("input: [3, 4, 4]\nlayers:\n  - ReLU\n"
                         "  - Conv2d: {out_channels: 8, kernel_size: 5}\n")
    assert "earlier" not in message


def test_no_blame_for_a_problem_unrelated_to_sizes() -> None:
    [message] = messages(HEAD + "  - MaxPool2d: {kernel_size: 2}\n"
                         "  - Conv2d: {out_channels: 4, kernel_size: 3, groups: 2}\n")
    assert "groups must divide in_channels" in message and "earlier" not in message
