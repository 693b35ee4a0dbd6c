"""Safety limits: the memory guard of ``build`` and the bounds on expanded size and nesting.

Every test checks the guard's decision (what is refused, what is said, that nothing was
allocated), never a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

import netspec
from netspec import LimitError
from netspec.analysis.limits import check_size
from netspec.cli import commands as cli
from netspec.core.limits import DEFAULT_MAX_PARAMS, MAX_LAYERS, MAX_NESTING, parse_count

# 3136 inputs x 10^10 outputs + 10^10 biases = 3137 * 10^10 parameters
HUGE = "input: [3136]\nlayers:\n  - Linear: {out_features: 10000000000}\n"
HUGE_PARAMS = 3137 * 10**10


@pytest.fixture
def no_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to construct a Linear module fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("the guard let build allocate a Linear")

    monkeypatch.setattr(nn.Linear, "__init__", refuse)


def test_default_limit_is_two_billion_elements() -> None:
    assert DEFAULT_MAX_PARAMS == 2_000_000_000


def test_oversized_spec_is_refused_before_allocating(no_allocation: None) -> None:
    with pytest.raises(LimitError) as caught:
        netspec.build(HUGE)
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (3, 5)
    assert f"{HUGE_PARAMS:,} parameter and buffer elements" in problem.message
    assert "125.5 TB as float32" in problem.message  # 4 bytes each
    assert "max_params=2,000,000,000" in problem.message
    assert "--max-params" in problem.message and "device='meta'" in problem.message


def test_the_guard_counts_bytes_of_the_requested_dtype(no_allocation: None) -> None:
    with pytest.raises(LimitError, match=r"62\.7 TB as float16"):  # 2 bytes each
        netspec.build(HUGE, dtype=torch.float16)


def test_buffers_count_too(no_allocation: None) -> None:
    # BatchNorm1d on 1000 features: 2000 parameters, 2001 buffer elements (mean, var, count)
    spec = "input: [1000]\nlayers:\n  - BatchNorm1d\n"
    with pytest.raises(LimitError, match="4,001 parameter and buffer elements"):
        netspec.build(spec, max_params=4000)
    assert isinstance(netspec.build(spec, max_params=4001)[0], nn.BatchNorm1d)


def test_max_params_lifts_or_lowers_the_limit() -> None:
    spec = "input: [10]\nlayers:\n  - Linear: {out_features: 10}\n"  # 110 parameters
    with pytest.raises(LimitError, match="the limit is max_params=100"):
        netspec.build(spec, max_params=100)
    assert netspec.build(spec, max_params=110)[0].out_features == 10
    assert netspec.build(spec, max_params=None)[0].out_features == 10


def test_meta_device_is_never_refused() -> None:
    model = netspec.build(HUGE, device="meta")
    assert model[0].weight.shape == (10**10, 3136)
    assert model[0].weight.is_meta
    assert netspec.build(HUGE, device=torch.device("meta"))[0].weight.is_meta


def test_summary_confirms_on_meta_and_is_not_blocked() -> None:
    result = netspec.summary(HUGE)
    assert result.report.params == HUGE_PARAMS
    assert result.confirmed


def test_summary_max_params_refuses(no_allocation: None) -> None:
    with pytest.raises(LimitError, match="max_params=1,000,000"):
        netspec.summary(HUGE, max_params=1_000_000)


def test_cli_max_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("huge.yaml").write_text(HUGE)
    assert cli.main(["summary", "huge.yaml", "--max-params", "2e9", "--no-confirm"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("huge.yaml:3:5: layers[0]: building would allocate")
    assert "Traceback" not in err


@pytest.mark.parametrize(("text", "count"), [
    ("2000000000", 2_000_000_000), ("2_000_000_000", 2_000_000_000), ("2e9", 2_000_000_000),
    ("1.5e3", 1500),
])
def test_parse_count(text: str, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["1.5", "two", "", "0", "-5"])
def test_cli_rejects_a_bad_count(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["summary", "x.yaml", "--max-params", text])
    assert caught.value.code == 2
    assert "--max-params" in capsys.readouterr().err


# --- size and nesting ---


def repeats(count: int) -> str:
    """``count`` top-level entries of 1000 x 10 ReLUs: 10,000 layers each."""
    entry = "  - Repeat: {times: 1000, layers: [{Repeat: {times: 10, layers: [ReLU]}}]}\n"
    return "input: [3, 8, 8]\nlayers:\n" + entry * count


def test_expanded_layers_are_counted_before_expanding(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_LAYERS == 100_000
    from netspec.layers import walk as walk_module

    def no_walk(*args: object, **kwargs: object) -> None:
        pytest.fail("the walk started before the size was checked")

    monkeypatch.setattr("netspec.analysis.analysis.walk", no_walk)
    monkeypatch.setattr(walk_module, "walk", no_walk)
    with pytest.raises(LimitError) as caught:
        netspec.load(repeats(11))
    [problem] = caught.value.problems
    assert problem.line == 13  # the eleventh entry (the largest, the last of equals)
    assert "expands to 110,000 layers" in problem.message
    assert "the limit is 100,000" in problem.message


def test_exactly_the_limit_is_accepted() -> None:
    spec = netspec.Spec.model_validate(yaml.safe_load(repeats(10)))  # validated, not analysed
    check_size(spec)  # 100,000 layers: no error
    with pytest.raises(LimitError):
        check_size(netspec.Spec.model_validate(yaml.safe_load(repeats(11))))


def nested(levels: int) -> str:
    entry = "{Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}}"
    for _ in range(levels):
        entry = f"{{Residual: {{body: [{entry}]}}}}"
    return f"input: [3, 8, 8]\nlayers:\n  - {entry}\n"


def test_nesting_limit() -> None:
    spec = netspec.load(nested(MAX_NESTING))
    # each level's input differs from its body's (3 -> 4 channels) only at the innermost one
    assert netspec.analyze(spec).output_shape == (4, 8, 8)
    with pytest.raises(LimitError, match=f"nest {MAX_NESTING + 1} deep here; the limit is 10"):
        netspec.load(nested(MAX_NESTING + 1))


def test_nested_projections_walk_each_body_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Residual blocks with projection shortcuts, nested: each body is not walked 2^depth times
    (each level used to walk its body once for the rows and once more for its strides)."""
    from netspec.layers import branches, composite

    calls = 0
    original = composite.walk

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(composite, "walk", counting)  # the walks of a composite's lists
    monkeypatch.setattr(branches, "walk", counting)  # a residual body's strides
    branches._STRIDES.clear()
    netspec.load(nested(MAX_NESTING))
    # each level walks the bodies inside it a few times: quadratic in depth (175 calls here),
    # where without the cache it was exponential (over 2,000)
    assert calls <= 2 * MAX_NESTING**2


# --- tensors torch cannot hold ---


def test_an_activation_past_2_48_values_is_refused() -> None:
    # 3 * 10^10 per axis, cubed: 2.7e31 values, more than torch can index (2^63)
    with pytest.raises(LimitError) as caught:
        netspec.load("input: [1, 3, 3, 3]\nlayers:\n"
                     "  - Upsample: {mode: nearest, scale_factor: 10000000000}\n  - ReLU\n")
    [problem] = caught.value.problems
    assert (problem.line, problem.path) == (3, ("layers", 0, "Upsample"))
    assert "output [1, 30000000000, 30000000000, 30000000000] holds 2.7e+31 values" in (
        problem.message)
    assert "2^48 = 281,474,976,710,656" in problem.message


def test_an_input_past_2_48_values_is_refused() -> None:
    with pytest.raises(LimitError, match=r"the input \[3, 10000000, 10000000, 10000000\]"):
        netspec.load("input: [3, 10000000, 10000000, 10000000]\nlayers: [ReLU]\n")


def test_parameters_past_2_48_are_refused() -> None:
    # 10^8 x 10^8 weights and 10^8 biases: about 10^16, past 2^48 (about 2.8 * 10^14)
    with pytest.raises(LimitError, match="would have 10,000,000,100,000,000 parameters"):
        netspec.load("input: [100000000]\nlayers:\n  - Linear: {out_features: 100000000}\n")
