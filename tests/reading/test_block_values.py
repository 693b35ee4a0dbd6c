"""Block parameters that are not numbers (lists, bools, strings) are substituted whole
where a value is exactly the parameter's name; expressions stay numeric; and a block whose one
layer is a ``Repeat`` can be named where it is used."""

from __future__ import annotations

import pytest

import netspec

BLOCKS = """
input: [3, 16, 16]
params: {pad: same}
blocks:
  Conv:
    params: {k: 3, bias: true, padding: pad}
    layers:
      - Conv2d: {out_channels: 4, kernel_size: k, bias: bias, padding: padding}
  Stage:
    params: {n: 2, k: [1, 3]}
    layers:
      - Repeat: {times: n, layers: [{Conv: {k: k}}]}
layers:
"""


def build(layers: str) -> netspec.Spec:
    return netspec.load(BLOCKS + layers)


def test_lists_bools_and_strings_are_substituted_whole() -> None:
    spec = build("  - Conv: {k: [1, 7], bias: false}\n  - Conv: {padding: 1}\n")
    first, second = spec.layers
    assert (first.kernel_size, first.bias, first.padding) == ((1, 7), False, "same")
    assert (second.kernel_size, second.bias, second.padding) == (3, True, 1)


def test_list_items_may_be_expressions() -> None:
    spec = netspec.load(BLOCKS.replace("params: {pad: same}", "params: {pad: same, w: 2}")
                        + "  - Conv: {k: [w + 1, 2 * w]}\n")
    assert spec.layers[0].kernel_size == (3, 4)


def test_expressions_stay_numeric() -> None:
    with pytest.raises(netspec.SpecError, match=r"parameter k is \[1, 3\], not a number") as error:
        netspec.load(BLOCKS.replace("kernel_size: k,", "kernel_size: k * 2,")
                     + "  - Conv: {k: [1, 3]}\n")
    assert error.value.problems[0].line is not None


def test_a_block_of_one_repeat_is_named_at_its_use() -> None:
    """The name goes to the group the copies form: a Sequential named stage1, copies 0 to 2."""
    spec = build("  - Stage: {n: 3, name: stage1}\n  - Stage: {n: 1}\n")
    model = netspec.build(spec, device="meta")
    names = [name for name, _ in model.named_children()]
    assert names == ["stage1", "1"]
    assert [name for name, _ in model.stage1.named_children()] == ["0", "1", "2"]
    assert model.stage1[2].kernel_size == (1, 3)


def test_errors_inside_a_named_repeat_block_point_at_the_block() -> None:
    with pytest.raises(netspec.SpecError) as error:
        build("  - Stage: {n: 2, k: 0, name: stage1}\n")
    problem = error.value.problems[0]
    assert problem.line is not None and "kernel_size" in str(problem.path)
