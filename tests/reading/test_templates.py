"""``params:``, reusable ``blocks:`` and the expression evaluator, by hand-worked examples.

Every expected number is worked out in the test (or its comment) from the expression's ordinary
arithmetic; every error is a ``netspec.SpecError`` located at the line that caused it.
"""

from __future__ import annotations

import builtins
import time
from typing import Any

import pytest
import torch

import netspec
from netspec.reading.expressions import evaluate

# --- the evaluator ---


@pytest.mark.parametrize(("text", "scope", "expected"), [
    ("4 * width", {"width": 16}, 64),
    ("width // 2", {"width": 5}, 2),
    # 32 * 0.75 = 24.0; int(24 + 8/2) // 8 * 8 = 28 // 8 * 8 = 24; 24 >= 0.9 * 24: kept.
    ("make_divisible(32 * 0.75)", {}, 24),
    # int(10 + 4) // 8 * 8 = 8, but 8 < 0.9 * 10 (more than 10% down): one divisor more, 16.
    ("make_divisible(10)", {}, 16),
    # int(37.5 + 4) = 41; 41 // 8 * 8 = 40.
    ("make_divisible(37.5)", {}, 40),
    # int(3 + 4) // 8 * 8 = 0; never below the divisor: 8.
    ("make_divisible(3)", {}, 8),
    # divisor 16: int(20 + 8) // 16 * 16 = 16 < 18 = 0.9 * 20: 32.
    ("make_divisible(20, 16)", {}, 32),
    ("min(width, 8)", {"width": 16}, 8),
    ("max(width, 8)", {"width": 4}, 8),
    ("max(2, min(width * 3, 10))", {"width": 4}, 10),
    ("2 + 3 * 4", {}, 14),
    ("(2 + 3) * 4", {}, 20),
    ("20 - 6 - 4", {}, 10),  # left to right: (20 - 6) - 4
    ("64 // 4 // 2", {}, 8),  # (64 // 4) // 2
    ("17 % 5 * 2", {}, 4),  # (17 % 5) * 2
    ("7 - 2 * 3 + 1", {}, 2),
    ("-width + 10", {"width": 4}, 6),
    ("2 * -3", {}, -6),
    ("- -3", {}, 3),
    ("-7 // 2", {}, -4),  # the minus binds first, as in Python: floor(-3.5)
    ("10 - -width", {"width": 4}, 14),
    ("int(width * 1.5)", {"width": 5}, 7),  # int(7.5)
    ("round(2.5) + ceil(0.2) + floor(1.9)", {}, 4),  # 2 (half to even) + 1 + 1
    ("int(1.5e1) + 2", {}, 17),  # a float with a decimal point and an exponent
    ("width / 4", {"width": 6}, 1.5),
])
def test_expression_values(text: str, scope: dict[str, Any], expected: float) -> None:
    value = evaluate(text, scope)
    assert value == expected
    assert type(value) is type(expected)  # channels must stay ints


@pytest.mark.parametrize(("text", "scope", "message"), [
    ("1 +", {}, "expected a value"),
    ("width ** 2", {"width": 2}, "unexpected '*'"),
    ("open(1)", {}, "unexpected 'open'"),
    ("__import__('os')", {}, "not an expression"),
    ("width // 0", {"width": 2}, "division by zero"),
    ("width % (width - width)", {"width": 2}, "division by zero"),
    ("make_divisible(8, 0)", {}, "positive divisor"),
    ("100000000000000000000 + 1", {}, "out of range"),
    ("width", {"width": 10**20}, "out of range"),
    ("width", {"width": 10**400}, "out of range"),
    ("width * width", {"width": 10**8}, "out of range"),
    ("int(1e999)", {}, "out of range"),
    ("ceil(1e999) - ceil(1e999)", {}, "out of range"),
    ("1 / 1e-300", {}, "out of range"),
    ("min()", {}, "unexpected ')'"),
    ("round(1.5, 2.5)", {}, "round()"),
    ("width", {"width": "same"}, "not a number"),
    ("1" * 201, {}, "longer than 200"),
])
def test_expression_errors(text: str, scope: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("*", r"\*")):
        evaluate(text, scope)


# --- params in specs ---


def spec(*layers: str, params: str = "{width: 4}") -> str:
    """Line 1 input, line 2 params, line 3 ``layers:``, the layers from line 4."""
    return (
        "input: [3, 8, 8]\n"
        f"params: {params}\n"
        "layers:\n" + "".join(f"  - {layer}\n" for layer in layers)
    )


def error_of(text: str, **kwargs: Any) -> netspec.Problem:
    with pytest.raises(netspec.SpecError) as caught:
        netspec.load(text, **kwargs)
    (problem,) = caught.value.problems
    return problem


def conv_args(model: torch.nn.Module) -> list[tuple[int, int, tuple[int, ...]]]:
    return [(m.in_channels, m.out_channels, m.kernel_size) for m in model.modules()
            if isinstance(m, torch.nn.Conv2d)]


def test_references_work_unquoted_in_flow_mappings() -> None:
    # width 4: out 4 * 4 = 16, kernel 4 // 2 + 1 = 3, padding 4 // 4 = 1; 16*3*9 + 16 = 448.
    text = spec("Conv2d: {out_channels: 4 * width, kernel_size: width // 2 + 1, "
                "padding: width // 4}")
    report = netspec.analyze(netspec.load(text))
    assert report.output_shape == (16, 8, 8)
    assert report.params == 448
    assert conv_args(netspec.build(text)) == [(3, 16, (3, 3))]


def test_params_refer_to_params_in_any_order() -> None:
    text = spec("Conv2d: {out_channels: wide, kernel_size: 1}",
                params="{wide: 2 * width, width: 4}")
    assert netspec.analyze(netspec.load(text)).output_shape == (8, 8, 8)


def test_params_override_changes_the_model() -> None:
    text = spec("Conv2d: {out_channels: 4 * width, kernel_size: 3, padding: 1}",
                "Conv2d: {out_channels: wide, kernel_size: 1}",
                params="{width: 4, wide: 2 * width}")
    default = netspec.analyze(netspec.load(text))
    # 16*3*9 + 16 = 448, then 8*16 + 8 = 136
    assert default.params == 448 + 136
    wider = netspec.analyze(netspec.load(text, params={"width": 8}))
    # width 8: 32*3*9 + 32 = 896; wide follows (16): 16*32 + 16 = 528
    assert wider.output_shape == (16, 8, 8)
    assert wider.params == 896 + 528
    assert conv_args(netspec.build(netspec.load(text, params={"width": 8}))) == [
        (3, 32, (3, 3)), (32, 16, (1, 1))]


def test_an_override_replaces_the_definition() -> None:
    """``b`` would refer to ``a`` and back; setting ``a`` breaks the cycle: b = 2 * 3."""
    text = ("input: [3, 8, 8]\nparams:\n  a: b + 1\n  b: 2 * a\n"
            "layers:\n  - Conv2d: {out_channels: b, kernel_size: 1}\n")
    assert netspec.analyze(netspec.load(text, params={"a": 3})).output_shape == (6, 8, 8)


def test_make_divisible_width_family() -> None:
    text = spec("Conv2d: {out_channels: make_divisible(32 * alpha), kernel_size: 1}",
                params="{alpha: 1.0}")
    for alpha, channels in ((0.75, 24), (0.5, 16), (1.4, 48), (0.35, 16)):
        # 0.5: 16 + 4 -> 16; 1.4: 44.8 + 4 -> 48; 0.35: 11.2 + 4 = 15 -> 8 < 10.08: 16
        spec_ = netspec.load(text, params={"alpha": alpha})
        assert netspec.analyze(spec_).output_shape == (channels, 8, 8), alpha


def test_quoted_expression_with_commas() -> None:
    text = spec("Conv2d: {out_channels: 'max(width, 8)', kernel_size: 1}")
    assert netspec.analyze(netspec.load(text)).output_shape == (8, 8, 8)


def test_unquoted_comma_is_explained() -> None:
    problem = error_of(spec("ReLU", "Conv2d: {out_channels: max(width, 8), kernel_size: 1}"))
    assert problem.line == 5
    assert "quote" in problem.message


def test_plain_strings_stay_strings() -> None:
    """'same' and 'nearest-exact' name no parameter: they are torch's values, not expressions."""
    text = spec("Conv2d: {out_channels: width, kernel_size: 3, padding: same}",
                "Upsample: {scale_factor: 2, mode: nearest-exact}")
    assert netspec.analyze(netspec.load(text)).output_shape == (4, 16, 16)


# --- blocks ---

BLOCKS = """\
input: [3, 8, 8]
params: {width: 4}
blocks:
  Stem:
    params: {planes: null}
    layers:
      - Conv2d: {out_channels: planes, kernel_size: 3, padding: 1}
  Unit:
    params: {planes: null, k: 1}
    layers:
      - Conv2d: {out_channels: planes, kernel_size: k}
      - BatchNorm2d
      - ReLU
  Pair:
    params: {planes: 8}
    layers:
      - Unit: {planes: planes}
      - Unit: {planes: planes // 2, k: 3}
layers:
  - Stem: {planes: 2 * width, name: stem}
  - Unit: {planes: width, name: block1}
  - Unit: {planes: width, k: 3}
  - Pair
"""


def test_blocks_expand_to_their_layers() -> None:
    spec_ = netspec.load(BLOCKS)
    report = netspec.analyze(spec_)
    top = report.top_level()
    assert [(row.name, row.kind) for row in top] == [
        ("stem", "Conv2d"),  # one layer: that layer, named at the use site
        ("block1", "Sequential"),  # several: a Sequential, named at the use site
        ("2", "Sequential"),
        ("3", "Sequential"),  # a block of blocks: a Sequential of Sequentials
    ]
    # stem 3->8 3x3: 8*3*9 + 8 = 224; block1 8->4 1x1: 36 + BN 8 = 44;
    # 2: 4->4 3x3: 148 + 8 = 156; Pair (planes 8): 4->8 1x1: 40 + 16, then 8->4 3x3: 292 + 8.
    assert [row.params for row in top] == [224, 44, 156, 56 + 300]
    assert report.output_shape == (4, 4, 4)  # the two unpadded 3x3 convs: 8 -> 6 -> 4
    model = netspec.build(spec_)
    keys = list(model.state_dict())
    assert keys[:2] == ["stem.weight", "stem.bias"]
    assert "block1.0.weight" in keys and "block1.1.running_mean" in keys
    assert "3.1.0.weight" in keys  # Pair's second Unit, its convolution
    assert conv_args(model) == [(3, 8, (3, 3)), (8, 4, (1, 1)), (4, 4, (3, 3)),
                                (4, 8, (1, 1)), (8, 4, (3, 3))]


def test_block_in_a_residual_body_with_default_and_override() -> None:
    text = """\
input: [8, 8, 8]
params: {width: 8}
blocks:
  Body:
    params: {planes: width, stride: 1}
    layers:
      - Conv2d: {out_channels: planes, kernel_size: 3, stride: stride, padding: 1}
layers:
  - Residual: {body: [Body], post: [ReLU]}
  - Residual: {body: [{Body: {planes: 2 * width, stride: 2}}]}
"""
    report = netspec.analyze(netspec.load(text))
    # identity: 8*8*9 + 8 = 584; projection block: 16*8*9 + 16 = 1168, shortcut 1x1/2 128 + BN 32
    assert [row.params for row in report.top_level()] == [584, 1168 + 128 + 32]
    assert report.output_shape == (16, 4, 4)


# --- errors, each at its line ---


def test_undefined_parameter_with_suggestion() -> None:
    problem = error_of(spec("ReLU", "Conv2d: {out_channels: 2 * widht, kernel_size: 1}"))
    assert problem.line == 5
    assert "undefined parameter 'widht'" in problem.message
    assert "did you mean width?" in problem.message


def test_undefined_parameter_next_to_a_known_one() -> None:
    problem = error_of(spec("Conv2d: {out_channels: width + depht, kernel_size: 1}",
                            params="{width: 4, depth: 2}"))
    assert problem.line == 4
    assert "undefined parameter 'depht'" in problem.message
    assert "did you mean depth?" in problem.message


def test_undefined_parameter_in_a_block_points_at_the_block() -> None:
    text = """\
input: [3, 8, 8]
blocks:
  Unit:
    params: {planes: 4}
    layers:
      - Conv2d: {out_channels: 2 * plans, kernel_size: 1}
layers:
  - Unit
"""
    problem = error_of(text)
    assert problem.line == 6
    assert "'plans'" in problem.message and "did you mean planes?" in problem.message


def test_cyclic_parameters() -> None:
    text = """\
input: [3, 8, 8]
params:
  width: 4
  a: b + 1
  b: 2 * a
layers:
  - Conv2d: {out_channels: a, kernel_size: 1}
"""
    problem = error_of(text)
    assert problem.line == 4
    assert "cycle: a -> b -> a" in problem.message


def test_parameter_defined_by_itself() -> None:
    problem = error_of(spec("ReLU", params="{c: c + 1}"))
    assert problem.line == 2
    assert "cycle: c -> c" in problem.message


def test_block_that_uses_itself() -> None:
    text = """\
input: [3, 8, 8]
blocks:
  Loop:
    layers:
      - ReLU
      - Loop
layers:
  - Loop
"""
    problem = error_of(text)
    assert problem.line == 6
    assert "block Loop uses itself: Loop -> Loop" in problem.message


def test_blocks_that_use_each_other() -> None:
    text = """\
input: [3, 8, 8]
blocks:
  A:
    params: {c: null}
    layers:
      - Conv2d: {out_channels: c, kernel_size: 1}
      - B: {c: c}
  B:
    params: {c: null}
    layers:
      - A: {c: c}
layers:
  - A: {c: 4}
"""
    problem = error_of(text)
    assert problem.line == 11
    assert "block A uses itself: A -> B -> A" in problem.message


UNIT = """\
input: [3, 8, 8]
blocks:
  Unit:
    params: {planes: null, stride: 1}
    layers:
      - Conv2d: {out_channels: planes, kernel_size: 1, stride: stride}
layers:
  - ReLU
"""


def test_unknown_block_argument_with_suggestion() -> None:
    problem = error_of(UNIT + "  - Unit: {planes: 4, strid: 2}\n")
    assert problem.line == 9
    assert "unknown argument 'strid' for block Unit; did you mean stride?" in problem.message


def test_missing_required_block_parameter() -> None:
    problem = error_of(UNIT + "  - Unit: {stride: 2, name: u}\n")
    assert problem.line == 9
    assert "block Unit needs planes" in problem.message


def test_misspelt_block_name_is_suggested() -> None:
    problem = error_of(UNIT + "  - Unti: {planes: 4}\n")
    assert problem.line == 9
    assert "did you mean Unit?" in problem.message


def test_unknown_override_points_at_params() -> None:
    problem = error_of(spec("Conv2d: {out_channels: width, kernel_size: 1}"),
                       params={"widht": 8})
    assert problem.line == 2
    assert "cannot set unknown parameter 'widht'; did you mean width?" in problem.message


def test_division_by_zero() -> None:
    problem = error_of(spec("ReLU", "Conv2d: {out_channels: 8 // (width - 4), kernel_size: 1}"))
    assert problem.line == 5
    assert "division by zero" in problem.message


@pytest.mark.parametrize(("params", "value"), [
    ("{width: 100000000000000000000}", "width"),  # 10**20
    ("{width: 1000000}", "width * 10000000000"),
    ("{width: 4}", "int(1e999)"),
])
def test_huge_values_are_errors(params: str, value: str) -> None:
    problem = error_of(spec("ReLU", f"Conv2d: {{out_channels: {value}, kernel_size: 1}}",
                            params=params))
    assert problem.line == 5
    assert "out of range" in problem.message


def test_python_is_never_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Code-like values stay literal strings (then fail validation) or are rejected as
    expressions; no ``eval``, ``exec`` or import ever runs on them."""
    real_import = builtins.__import__

    def guarded_import(name: str, *args: Any, **kwargs: Any) -> Any:
        assert name != "netspec_sentinel", "a spec value was executed"
        return real_import(name, *args, **kwargs)

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "__import__", guarded_import)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    quoted = error_of(spec("ReLU", """Conv2d: {out_channels: '__import__("netspec_sentinel")', \
kernel_size: 1}"""))
    assert quoted.line == 5
    assert '__import__("netspec_sentinel")' in quoted.message  # the literal, as received
    bare = error_of(spec("ReLU", "Conv2d: {out_channels: __import__(netspec_sentinel), "
                                 "kernel_size: 1}"))
    assert bare.line == 5
    dunder = error_of(spec("ReLU", "Conv2d: {out_channels: width.__class__, kernel_size: 1}"))
    assert dunder.line == 5


# --- Repeat ---


def test_repeat_times_is_bounded() -> None:
    problem = error_of(spec("ReLU", "Repeat: {times: 100000, layers: [ReLU]}"))
    assert problem.line == 5
    assert "1000" in problem.message


def test_nested_repeats_are_bounded_and_fail_fast() -> None:
    start = time.perf_counter()
    problem = error_of(spec("Repeat: {times: 1000, layers: [{Repeat: {times: 1000, "
                            "layers: [ReLU]}}]}"))
    assert time.perf_counter() - start < 5
    assert problem.line == 4
    assert "1,000,000 modules" in problem.message


def test_named_layer_inside_repeat_twice_is_an_error() -> None:
    problem = error_of(spec("ReLU", "Repeat: {times: 2, layers: [{ReLU: {name: act}}]}"))
    assert problem.line == 5
    assert "named 'act'" in problem.message and "unique" in problem.message


def test_names_are_unique_within_a_list() -> None:
    problem = error_of(spec("ReLU: {name: act}", "ReLU: {name: act}"))
    assert problem.line == 5
    # ...but the same name in another list (a Sequential) is fine
    netspec.load(spec("ReLU: {name: act}", "Sequential: {layers: [{ReLU: {name: act}}]}"))


def test_repeat_takes_no_name() -> None:
    problem = error_of(spec("Repeat: {times: 2, name: stage, layers: [ReLU]}"))
    assert problem.line == 4
    assert "no module of its own" in problem.message


def test_frozen_repeat_freezes_every_copy() -> None:
    text = spec("Repeat: {times: 2, trainable: false, layers: "
                "[{Conv2d: {out_channels: 3, kernel_size: 1}}]}")
    report = netspec.analyze(netspec.load(text))
    # two 1x1 convs 3->3: 2 * (9 + 3) = 24 parameters, none trained
    assert (report.trainable_params, report.non_trainable_params) == (0, 24)
    model = netspec.build(text)
    assert [p.requires_grad for p in model.parameters()] == [False] * 4
