"""``expect:`` in a spec: each rule met and broken on LeNet-5, whose numbers are worked by hand
in the README (61,706 parameters, 416,520 MACs, a 32x32 final field, jump 4 before Flatten)."""

from __future__ import annotations

from pathlib import Path

import pytest

import netspec
from netspec.advice.checks import check_spec
from netspec.advice.expect import check_expectations, output_stride
from netspec.cli.commands import main
from netspec.core.errors import SpecError

LENET = (Path(__file__).parents[2] / "specs" / "lenet5.yaml").read_text()


def with_expect(*lines: str) -> str:
    return LENET + "expect:\n" + "".join(f"  {line}\n" for line in lines)


def broken(*lines: str) -> list[tuple[int | None, str, str]]:
    spec = netspec.load(with_expect(*lines))
    return [(p.line, ".".join(map(str, p.path)), p.message)
            for p in check_expectations(spec, netspec.analyze(spec))]


def expect_line() -> int:
    return LENET.count("\n") + 2  # the first key under `expect:`


def test_all_met() -> None:
    assert broken("output_shape: [10]", "params: 61706", "max_params: 61706",
                  "max_macs: 416520", "min_receptive_field: 32", "output_stride: 4") == []


@pytest.mark.parametrize(("line", "message"), [
    ("output_shape: [20]", "the output shape is [10]; expected [20]"),
    ("params: 60000", "the network has 61,706 parameters; expected exactly 60,000 (+1,706)"),
    ("max_params: 50000", "61,706 parameters exceed max_params 50,000 by 11,706"),
    ("max_macs: 400000", "416,520 MACs per sample exceed max_macs 400,000 by 16,520"),
    ("min_receptive_field: [40, 28]",
     "the final receptive field is 32x32, below min_receptive_field 40x28 on H"),
    ("output_stride: 8", "the output stride (the jump of the last feature map with positions, "
                         "layers[5] AvgPool2d) is 4x4; expected 8"),
])
def test_each_rule_broken_is_located_at_its_line(line: str, message: str) -> None:
    key = line.split(":")[0]
    assert broken(line) == [(expect_line(), f"expect.{key}", message)]


def test_several_broken_are_all_reported_in_order() -> None:
    found = broken("max_params: 50000", "max_macs: 400000")
    assert [(line, path) for line, path, _ in found] == [
        (expect_line(), "expect.max_params"), (expect_line() + 1, "expect.max_macs")]


def test_per_axis_values_need_one_per_spatial_axis() -> None:
    assert broken("min_receptive_field: [1, 2, 3]")[0][2] == (
        "min_receptive_field needs 1 or 2 values (one per spatial axis); received [1, 2, 3]")
    mlp = "input: [784]\nlayers: [{Linear: {out_features: 10}}]\nexpect: {output_stride: 1}\n"
    spec = netspec.load(mlp)
    (problem,) = check_expectations(spec, netspec.analyze(spec))
    assert problem.message == "output_stride needs spatial axes; the input has none"


def test_output_stride_of_a_dense_network_is_its_final_jump() -> None:
    # 3x3 stride 2, then 3x3 stride 2 with padding: jumps 2 and 4
    spec = netspec.load("input: [1, 32, 32]\nlayers:\n"
                        "  - Conv2d: {out_channels: 2, kernel_size: 3, stride: 2, padding: 1}\n"
                        "  - Conv2d: {out_channels: 2, kernel_size: 3, stride: 2, padding: 1}\n")
    assert output_stride(netspec.analyze(spec)) == ((4, 4), "layers[1] Conv2d")


def test_unknown_expectation_is_a_spec_error_with_a_suggestion() -> None:
    with pytest.raises(SpecError) as caught:
        netspec.load(with_expect("max_param: 10"))
    (problem,) = caught.value.problems
    assert problem.line == expect_line() - 1
    assert "unknown expectation 'max_param'; did you mean max_params?" in problem.message


def test_expectations_use_parameters_and_round_trip() -> None:
    text = ("input: [1, 8, 8]\nparams: {limit: 100}\nlayers:\n"
            "  - Conv2d: {out_channels: 2, kernel_size: 3}\n"
            "expect: {max_params: 2 * limit, output_shape: [2, 6, 6]}\n")
    spec = netspec.load(text)
    assert spec.expect is not None
    assert spec.expect.max_params == 200
    assert spec.to_data()["expect"] == {"output_shape": [2, 6, 6], "max_params": 200}
    assert netspec.load(spec.to_yaml()) == spec
    assert netspec.load(text, params={"limit": 1}) != spec  # a different expectation


def test_check_fails_with_the_located_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    path = tmp_path / "lenet.yaml"
    path.write_text(with_expect("max_params: 50000"))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{expect_line()}:3: expect.max_params: 61,706 parameters exceed max_params " \
           "50,000 by 11,706" in err
    path.write_text(with_expect("max_params: 70000"))
    result = check_spec(path)
    assert result.errors == () and not result.failed()
