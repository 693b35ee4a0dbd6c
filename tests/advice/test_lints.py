"""Lints: each code on a hand-worked spec that triggers it and one that does not, silencing, and
the rule that the lint engine never names a layer kind.

The expected messages carry numbers worked by hand in the comments above each case.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import netspec
from netspec.advice import lint_nodes, lints, lints_network
from netspec.advice.lints import Lint, lint
from netspec.cli.commands import main
from netspec.core.errors import SpecError
from netspec.core.lint_codes import LINT_CODES, severity
from netspec.layers.registry import registered_kinds

DOCS = Path(__file__).parents[2] / "docs" / "lints.md"


def spec(layers: str, shape: str = "[3, 28, 28]", extra: str = "") -> str:
    return f"input: {shape}\n{extra}layers:\n" + "".join(
        f"  - {line}\n" for line in layers.strip().splitlines()
    )


def found(text: str) -> list[Lint]:
    return lint(netspec.load(text))


def codes(text: str) -> list[str]:
    return [warning.code for warning in found(text)]


def only(text: str, code: str) -> Lint:
    matches = [warning for warning in found(text) if warning.code == code]
    assert len(matches) == 1, found(text)
    return matches[0]


# --- NS101: even kernel padded to keep the size ---


def test_ns101_even_kernel_with_symmetric_padding() -> None:
    # 28 + 2*2 - 4 + 1 = 29: keeping 28 needs 4 - 1 = 3 padding rows, odd, so not two equal sides
    warning = only(spec("Conv2d: {out_channels: 8, kernel_size: 4, padding: 2}"), "NS101")
    assert warning.message == (
        "on H and W, the even kernel 4 with padding 2 turns 28 into 29: keeping the size needs "
        "3 padding in all, which two equal sides cannot give; use an odd kernel such as 5 with "
        "padding 2"
    )
    assert warning.path == ("layers", 0, "Conv2d")
    assert (warning.line, warning.column) == (3, 5)


def test_ns101_same_padding_with_even_kernel_is_asymmetric() -> None:
    # torch's 'same' for k = 4 pads d(k-1) = 3 in all: 1 before, 2 after
    warning = only(spec("Conv2d: {out_channels: 8, kernel_size: [3, 4], padding: same}"), "NS101")
    assert warning.message == (
        "on W, padding: same with the even kernel 4 pads 1 before and 2 after: the size is kept "
        "but the output shifts half a pixel; use an odd kernel such as 5 with padding 2"
    )


@pytest.mark.parametrize("layer", [
    "Conv2d: {out_channels: 8, kernel_size: 3, padding: 1}",           # odd: 28 kept
    "Conv2d: {out_channels: 8, kernel_size: 4}",                       # no padding: 25, meant
    "Conv2d: {out_channels: 8, kernel_size: 4, stride: 2, padding: 1}",  # halves 28 to 14
    "Conv2d: {out_channels: 8, kernel_size: 3, dilation: 2, padding: 2}",  # spans 5: odd
])
def test_ns101_not_for_odd_unpadded_or_strided_kernels(layer: str) -> None:
    assert "NS101" not in codes(spec(layer))


# --- NS102: bias cancelled by the normalisation after it ---


def test_ns102_conv_bias_before_batch_norm() -> None:
    # Conv2d's bias: one per output channel, 16; BatchNorm2d subtracts each channel's mean
    warning = only(spec("Conv2d: {out_channels: 16, kernel_size: 3, padding: 1}\nBatchNorm2d"),
                   "NS102")
    assert warning.message == (
        "its bias (16 parameters) is cancelled by the BatchNorm2d right after it, which "
        "subtracts each channel's mean; set bias: false to save 16 parameters"
    )


def test_ns102_linear_bias_before_batch_norm_1d_and_group_norm_of_single_channels() -> None:
    assert "NS102" in codes(spec("Linear: {out_features: 32}\nBatchNorm1d", "[64]"))
    assert "NS102" in codes(spec("Conv2d: {out_channels: 4, kernel_size: 1}\n"
                                 "GroupNorm: {num_groups: 4}"))


@pytest.mark.parametrize("normalized", ["", ": {normalized_shape: [26, 26]}"])
def test_ns102_conv_bias_before_a_layer_norm_within_each_channel(normalized: str) -> None:
    """LayerNorm over W (or H, W) of [C, H, W] subtracts means taken inside one channel, so the
    convolution's per-channel bias comes out again: torch's modules agree (below)."""
    found = lint(netspec.load(spec(f"Conv2d: {{out_channels: 16, kernel_size: 3}}\nLayerNorm"
                                   f"{normalized}")))
    assert [(item.code, item.path[:2]) for item in found if item.code == "NS102"] == [
        ("NS102", ("layers", 0))]
    assert "16" in next(item.message for item in found if item.code == "NS102")
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(3, 16, 3)
    norm = torch.nn.LayerNorm([26, 26] if normalized else 26)
    x = torch.randn(2, 3, 28, 28)
    before = norm(conv(x))
    with torch.no_grad():
        conv.bias.add_(torch.randn(16))
    torch.testing.assert_close(norm(conv(x)), before, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("layers", "shape"), [
    ("Conv2d: {out_channels: 16, kernel_size: 3, bias: false}\nBatchNorm2d", "[3, 28, 28]"),
    ("Conv2d: {out_channels: 16, kernel_size: 3}\nReLU\nBatchNorm2d", "[3, 28, 28]"),
    ("Conv2d: {out_channels: 16, kernel_size: 3}\nGroupNorm: {num_groups: 4}", "[3, 28, 28]"),
    ("Conv2d: {out_channels: 16, kernel_size: 3}\nLayerNorm: {normalized_shape: [16, 26, 26]}",
     "[3, 28, 28]"),
    # a Linear on [C, L] adds its bias along L; BatchNorm1d normalises the C channels
    ("Linear: {out_features: 8}\nBatchNorm1d", "[4, 16]"),
])
def test_ns102_not_without_bias_or_a_cancelling_norm_right_after(layers: str, shape: str) -> None:
    assert "NS102" not in codes(spec(layers, shape))


# --- NS103: rows dropped by floor division ---


def test_ns103_pool_drops_the_last_row_and_column() -> None:
    # windows of 2 every 2 start at 0, 2, ..., 12 and read rows 0..13; row 14 of 15 is lost
    warning = only(spec("MaxPool2d: {kernel_size: 2}", "[1, 15, 15]"), "NS103")
    assert warning.message == (
        "floor division drops the last row of 15 on H (row 14) and the last column of 15 on W "
        "(column 14): no window of kernel 2x2, stride 2x2 reaches them; choose an input size "
        "that tiles (netspec check --inputs), or change the padding or ceil_mode"
    )


def test_ns103_counts_several_positions_in_one_d() -> None:
    # out = floor((10 - 4) / 4) + 1 = 2 windows, [0, 4) and [4, 8): positions 8 and 9 are lost
    warning = only(spec("Conv1d: {out_channels: 2, kernel_size: 4, stride: 4}", "[1, 10]"),
                   "NS103")
    assert warning.message.startswith(
        "floor division drops the last 2 positions of 10 on L (positions 8..9): no window of "
        "kernel 4, stride 4 reaches them"
    )


@pytest.mark.parametrize(("layer", "shape"), [
    ("MaxPool2d: {kernel_size: 2}", "[1, 16, 16]"),
    ("MaxPool2d: {kernel_size: 2, ceil_mode: true}", "[1, 15, 15]"),  # a last, partial window
    # out = floor((16 + 2 - 3) / 2) + 1 = 8 windows reach 7*2 + 3 = 17 = 1 + 16: all rows read
    ("Conv2d: {out_channels: 4, kernel_size: 3, stride: 2, padding: 1}", "[1, 16, 16]"),
    # a 1x1 window every 2 skips odd rows by design, not by the floor division
    ("Conv2d: {out_channels: 4, kernel_size: 1, stride: 2}", "[1, 16, 16]"),
])
def test_ns103_not_when_the_windows_tile(layer: str, shape: str) -> None:
    assert "NS103" not in codes(spec(layer, shape))


# --- NS104 and NS105: dropout or an activation right before a normalisation ---


def test_ns104_dropout_before_batch_norm() -> None:
    warning = only(spec("Linear: {out_features: 32, bias: false}\nDropout\nBatchNorm1d", "[64]"),
                   "NS104")
    assert warning.path == ("layers", 1, "Dropout")
    assert warning.message.startswith("Dropout directly before BatchNorm1d: dropout changes the "
                                      "variance of the activations")


@pytest.mark.parametrize("layers", [
    "Dropout\nLinear: {out_features: 8}",
    "BatchNorm1d\nDropout",
    "Dropout\nBatchNorm1d: {track_running_stats: false}",  # batch statistics in evaluation too
])
def test_ns104_not_without_running_statistics_right_after(layers: str) -> None:
    assert "NS104" not in codes(spec(layers, "[64]"))


def test_ns105_activation_before_normalisation() -> None:
    warning = only(spec("Conv2d: {out_channels: 8, kernel_size: 3, bias: false}\nReLU\n"
                        "BatchNorm2d"), "NS105")
    assert warning.message == (
        "ReLU directly before BatchNorm2d: the lecture's order is CONV/FC -> BatchNorm2d -> ReLU, "
        "normalising the layer's output before the nonlinearity"
    )
    assert "NS105" in codes(spec("Linear: {out_features: 8}\nGELU\nLayerNorm", "[16]"))


@pytest.mark.parametrize("layers", [
    "Conv2d: {out_channels: 8, kernel_size: 3, bias: false}\nBatchNorm2d\nReLU",
    "Conv2d: {out_channels: 8, kernel_size: 3}\nReLU\nLocalResponseNorm: {size: 5}",  # AlexNet
    "Conv2d: {out_channels: 8, kernel_size: 3}\nIdentity\nBatchNorm2d",
])
def test_ns105_not_in_the_lecture_order(layers: str) -> None:
    assert "NS105" not in codes(spec(layers))


# --- NS106: spatial size collapsing to 1 long before the head ---

COLLAPSE = """\
Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}
MaxPool2d: {kernel_size: 2}
MaxPool2d: {kernel_size: 2}
MaxPool2d: {kernel_size: 2}
"""


def test_ns106_windows_slide_over_a_one_by_one_map() -> None:
    # 8 -> 4 -> 2 -> 1 at layers[3]; two 3x3 convolutions follow on the 1x1 map
    text = spec(COLLAPSE + "Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}\n"
                "Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}", "[1, 8, 8]")
    warning = only(text, "NS106")
    assert warning.path == ("layers", 3, "MaxPool2d")
    assert warning.message == (
        "the spatial size reaches 1 on H and W here ([4, 1, 1]), yet 2 later layers still slide "
        "windows wider than 1 over it (first: layers[4] Conv2d, kernel 3x3): they see mostly "
        "padding; downsample less, use a larger input, or use 1x1 kernels there"
    )


@pytest.mark.parametrize("head", [
    "Flatten\nLinear: {out_features: 10}",
    "Conv2d: {out_channels: 10, kernel_size: 1}",  # a 1x1 kernel on a 1x1 map is a Linear
])
def test_ns106_not_when_only_the_head_follows(head: str) -> None:
    assert "NS106" not in codes(spec(COLLAPSE + head, "[1, 8, 8]"))


# --- NS107 and NS108: the final receptive field against the input ---


def test_ns107_dense_output_sees_part_of_the_input() -> None:
    # one 5x5 convolution: each unit sees 5x5 of 28x28
    warning = only(spec("Conv2d: {out_channels: 4, kernel_size: 5}"), "NS107")
    assert warning.message.startswith(
        "each output unit sees 5x5 of the 28x28 input: the head never sees the whole input.")


def test_ns107_rows_dropped_never_reach_the_head() -> None:
    # windows [0, 4) and [4, 8) of 10; the global pool then sees 4 + (2-1)*4 = 8 positions
    text = spec("Conv1d: {out_channels: 2, kernel_size: 4, stride: 4}\n"
                "AdaptiveAvgPool1d: {output_size: 1}", "[1, 10]")
    assert only(text, "NS107").message == (
        "each output unit sees 8 of the 10 input: positions that floor division drops on the "
        "way never reach the head"
    )


def test_ns107_not_when_the_head_sees_everything() -> None:
    text = spec("Conv2d: {out_channels: 4, kernel_size: 5}\nAdaptiveAvgPool2d: {output_size: 1}\n"
                "Flatten\nLinear: {out_features: 10}")
    assert "NS107" not in codes(text)


def test_ns108_field_more_than_five_times_the_input() -> None:
    # five 9x9 convolutions: 1 + 5*8 = 41 > 5*8 = 40; four give 33, below
    conv = "Conv2d: {out_channels: 2, kernel_size: 9, padding: 4}\n"
    warning = only(spec(conv * 5, "[1, 8, 8]"), "NS108")
    assert warning.message.startswith(
        "the final receptive field 41x41 is more than 5 times the 8x8 input")
    assert "NS108" not in codes(spec(conv * 4, "[1, 8, 8]"))


# --- NS109: one layer holds most of the parameters ---


def test_ns109_the_linear_after_a_large_flatten() -> None:
    # conv 4*(1*3*3) + 4 = 40 -> [4, 4, 4]; Flatten 64; Linear 10*64 + 10 = 650; 650/690 = 94%
    text = spec("Conv2d: {out_channels: 4, kernel_size: 3}\nFlatten\nLinear: {out_features: 10}",
                "[1, 6, 6]")
    warning = only(text, "NS109")
    assert warning.path == ("layers", 2, "Linear")
    assert warning.message == (
        "holds 650 of the 690 parameters (94%); its input is a flattened feature map of 64 "
        "values: pooling the map smaller before Flatten (an adaptive average pool) or fewer "
        "channels would shrink it"
    )


@pytest.mark.parametrize("layers", [
    # 4*(4*3*3) + 4 = 148 each: exactly half is not most
    "Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}\n"
    "Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}",
    "Conv2d: {out_channels: 4, kernel_size: 3, padding: 1}\nReLU",  # the only weighted layer
])
def test_ns109_not_without_a_majority_among_several_layers(layers: str) -> None:
    assert "NS109" not in codes(spec(layers, "[4, 8, 8]"))


# --- silencing, locations, the engine ---

BIASED = "Conv2d: {out_channels: 16, kernel_size: 3, padding: 1%s}\nBatchNorm2d"


def test_lint_ignore_on_the_layer_silences_only_that_code() -> None:
    assert "NS102" not in codes(spec(BIASED % ", lint_ignore: [NS102]"))
    assert "NS102" in codes(spec(BIASED % ", lint_ignore: [NS103]"))


def test_lint_ignore_on_a_composite_silences_the_layers_inside() -> None:
    inner = ("Sequential: {lint_ignore: [NS102], layers: [{Conv2d: {out_channels: 16, "
             "kernel_size: 3, padding: 1}}, BatchNorm2d]}")
    assert "NS102" not in codes(spec(inner))


def test_lint_ignore_at_the_top_silences_everywhere() -> None:
    assert "NS102" not in codes(spec(BIASED % "", extra="lint_ignore: [NS102]\n"))


def test_unknown_lint_code_is_a_located_error() -> None:
    with pytest.raises(SpecError) as caught:
        netspec.load(spec(BIASED % ", lint_ignore: [NS013]"))
    (problem,) = caught.value.problems
    assert problem.line == 3
    assert "unknown lint code 'NS013'; did you mean NS103?" in problem.message


def test_lint_ignore_round_trips_and_never_reaches_torch() -> None:
    loaded = netspec.load(spec(BIASED % ", lint_ignore: [NS102]", extra="lint_ignore: [NS109]\n"))
    assert netspec.load(loaded.to_yaml()) == loaded
    assert "lint_ignore" not in loaded.layers[0].torch_kwargs((3, 28, 28))


def test_repeated_copies_are_reported_once() -> None:
    text = spec("Repeat: {times: 3, layers: [{Conv2d: {out_channels: 4, kernel_size: 3, "
                "padding: 1}}, BatchNorm2d]}")
    warning = only(text, "NS102")
    assert warning.message.endswith("save 4 parameters (its 2 other copies too)")


def test_nested_layers_are_located_at_their_line() -> None:
    text = ("input: [3, 32, 32]\nlayers:\n  - Residual:\n      body:\n"
            "        - Conv2d: {out_channels: 3, kernel_size: 3, padding: 1}\n"
            "        - BatchNorm2d\n")
    warning = only(text, "NS102")
    assert warning.path == ("layers", 0, "Residual", "body", 0, "Conv2d")
    assert warning.where == "layers[0].body[0] Conv2d"
    assert (warning.line, warning.column) == (5, 11)
    assert str(warning).startswith("<spec>:5:11: layers[0].Residual.body[0].Conv2d: warning "
                                   "NS102: its bias")


def test_the_bundled_resnet_is_clean() -> None:
    assert lint(netspec.load(Path(__file__).parents[2] / "specs" / "resnet18.yaml")) == []


def test_the_engine_names_no_layer_kind() -> None:
    """netspec.lints never compares with a kind: no string equal to a kind's name, no
    comparison that reads ``.kind`` (messages may still mention a row's kind)."""
    tree = ast.parse("\n".join(inspect.getsource(module)
                               for module in (lints, lint_nodes, lints_network)))
    constants = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    assert constants & set(registered_kinds()) == set()
    compared = [
        part for node in ast.walk(tree) if isinstance(node, ast.Compare)
        for part in [node.left, *node.comparators]
        if any(isinstance(sub, ast.Attribute) and sub.attr == "kind" for sub in ast.walk(part))
    ]
    assert compared == []


def test_every_code_is_documented() -> None:
    text = DOCS.read_text()
    for code, title in LINT_CODES.items():
        assert f"## {code}: {title}" in text


def test_check_strict_fails_on_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    path = tmp_path / "biased.yaml"
    quiet = "lint_ignore: [NS107, NS109]\n"  # a dense output; the conv holds most parameters
    path.write_text(spec(BIASED % "", extra=quiet))
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    # conv 16*(3*3*3) + 16 = 448, BN 2*16 = 32; MACs (16*28*28)*(3*3*3) = 338,688, BN none
    assert out == f"{path}: ok (2 layers, 480 params, 338,688 MACs, out [16, 28, 28]; 1 " \
                  "warning)\n"
    assert err.startswith(f"{path}:4:5: layers[0].Conv2d: warning NS102: its bias")
    assert main(["check", str(path), "--strict"]) == 1
    assert capsys.readouterr().err.endswith(f"{path}: failed: 1 warning (--strict)\n")
    path.write_text(spec(BIASED % ", bias: false", extra=quiet))
    assert main(["check", str(path), "--strict"]) == 0


def test_summary_lists_warnings_under_the_table() -> None:
    result = netspec.summary(spec(BIASED % ""), confirm=False)
    table = result.to_table()
    assert "\nLint warnings (docs/lints.md; lint_ignore: [CODE] on a layer silences one):\n" \
           "  NS102 layers[0] Conv2d: its bias (16 parameters)" in table
    assert "- NS102 layers\\[0\\] Conv2d" not in result.to_markdown()
    assert "- NS102 layers[0] Conv2d: its bias" in result.to_markdown()


# --- NS110: stochastic depth outside a residual branch ---


def test_stochastic_depth_outside_a_residual_branch() -> None:
    warning = only(spec("Conv2d: {out_channels: 3, kernel_size: 3, padding: 1}\n"
                        "StochasticDepth: {p: 0.2, mode: row}"), "NS110")
    assert "outside a residual branch" in warning.message
    inside = spec("Residual: {shortcut: identity, body: ["
                  "{Conv2d: {out_channels: 3, kernel_size: 3, padding: 1}}, "
                  "{Sequential: {layers: [{StochasticDepth: {p: 0.2, mode: row}}]}}]}")
    assert "NS110" not in codes(inside)


# --- severities: warnings and notes ---


def test_the_textbook_facts_are_notes_and_the_rest_warnings() -> None:
    # LeNet-style: the first Linear holds most parameters (NS109), a note
    text = spec("Conv2d: {out_channels: 2, kernel_size: 3}\nFlatten\nLinear: {out_features: 50}\n"
                "Linear: {out_features: 10}")
    assert [(w.code, w.severity) for w in found(text)] == [("NS109", "note")]
    assert str(only(text, "NS109")).split(": ")[2] == "note NS109"
    assert {code for code in LINT_CODES if severity(code) == "note"} == {
        "NS103", "NS107", "NS108", "NS109"}


# --- NS111: Linear on a feature map, Flatten forgotten ---


def test_ns110_names_flatten_and_the_in_features_it_would_give() -> None:
    # conv 3x3 on 28: 26; pool 2: 13; Flatten would give 8*13*13 = 1,352
    text = spec("Conv2d: {out_channels: 8, kernel_size: 3}\nMaxPool2d: {kernel_size: 2}\n"
                "Linear: {out_features: 10}")
    message = only(text, "NS111").message
    assert "[8, 13, 13]" in message and "Flatten" in message
    assert "in_features would be 1,352" in message and "[8, 13, 10]" in message


def test_ns110_not_on_tokens_nor_channels_last_features() -> None:
    assert "NS111" not in codes(spec("Linear: {out_features: 32}", "[16, 64]"))  # tokens
    assert "NS111" not in codes(spec("Linear: {out_features: 32}", "[7, 7, 64]"))  # no conv
    assert "NS111" not in codes(spec("Conv1d: {out_channels: 4, kernel_size: 3}\n"
                                     "Linear: {out_features: 8}", "[2, 16]"))  # [C, L]: 2-D


# --- NS112: channels-last input ---


def test_ns111_at_the_input_line_with_the_fix() -> None:
    warning = only(spec("Conv2d: {out_channels: 8, kernel_size: 3}", "[28, 28, 3]"), "NS112")
    assert warning.line == 1 and warning.path == ("input",)
    assert warning.message.endswith("write input: [3, 28, 28]")


def test_ns111_not_on_channels_first_or_feature_inputs() -> None:
    assert "NS112" not in codes(spec("Conv2d: {out_channels: 8, kernel_size: 3}", "[3, 28, 28]"))
    assert "NS112" not in codes(spec("Linear: {out_features: 8}", "[28, 28, 3]"))


def test_ns111_not_on_a_channels_last_linear_after_permute() -> None:
    # ConvNeXt's pointwise layers: Permute to [H, W, C], Linear over C, Permute back
    text = spec("Conv2d: {out_channels: 8, kernel_size: 3}\nPermute: {dims: [1, 2, 0]}\n"
                "Linear: {out_features: 32}\nPermute: {dims: [2, 0, 1]}")
    assert "NS111" not in codes(text)
