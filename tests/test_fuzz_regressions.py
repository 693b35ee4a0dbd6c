"""Bugs the fuzz campaigns found, each pinned by the smallest spec that showed it.

Before each fix, netspec either raised something other than ``NetspecError`` or accepted a spec
that torch cannot build or run (so the summary's confirmation failed as a netspec bug).
"""

from __future__ import annotations

from itertools import pairwise

import pytest

import netspec
from netspec import LimitError, SpecError
from netspec.core.shapes import adaptive_windows, even_adaptive_window


def test_upsampling_past_what_a_tensor_can_hold_is_refused() -> None:
    """Was accepted; torch failed with 'Storage size calculation overflowed'."""
    with pytest.raises(LimitError, match=r"holds 2\.7e\+31 values"):  # (3 * 10^10)^3
        netspec.load("input: [1, 3, 3, 3]\nlayers:\n"
                     "  - Upsample: {mode: nearest, scale_factor: 10000000000}\n")


def test_a_stride_past_int64_is_refused() -> None:
    """Was accepted (output size 1); torch failed with 'Overflow when unpacking long long'."""
    with pytest.raises(SpecError, match=r"at most 2\^48 = 281,474,976,710,656 or a valid tuple"):
        netspec.load("input: [3, 23]\nlayers:\n"
                     "  - MaxPool1d: {kernel_size: 2, stride: 999999999999999999999999999999}\n")


def test_a_huge_scale_factor_is_refused() -> None:
    """Raised OverflowError (floor of n * 1e308 = inf) instead of a located error."""
    with pytest.raises(SpecError) as caught:
        netspec.load("input: [3, 23]\nlayers:\n  - Upsample: {scale_factor: 1e308}\n")
    [problem] = caught.value.problems
    assert (problem.line, problem.path) == (3, ("layers", 0, "Upsample", "scale_factor"))


def test_adaptive_pooling_to_a_huge_size_does_not_list_its_windows() -> None:
    """Listed all 10^10 windows to decide whether they slide evenly (memory exhausted)."""
    spec = netspec.load("input: [3, 5]\nlayers:\n"
                        "  - AdaptiveAvgPool1d: {output_size: 10000000000}\n")
    assert netspec.analyze(spec).output_shape == (3, 10**10)


@pytest.mark.parametrize("size", range(1, 40))
def test_even_adaptive_window_agrees_with_the_windows(size: int) -> None:
    for out in range(1, 45):
        windows = adaptive_windows(size, out)
        widths = {end - start for start, end in windows}
        steps = {b[0] - a[0] for a, b in pairwise(windows)}
        even = out > 1 and len(widths) == 1 and len(steps) == 1
        expected = (widths.pop(), steps.pop()) if even else None
        assert even_adaptive_window(size, out) == expected, (size, out)


def test_deeply_nested_dict_is_a_limit_error() -> None:
    """A dict source 3000 levels deep raised RecursionError."""
    layers: list[object] = []
    for _ in range(3000):
        layers = [layers]
    with pytest.raises(LimitError, match="deeper than 64 levels"):
        netspec.load({"input": [3], "layers": layers})



@pytest.mark.parametrize(("opening", "closing"), [
    ("- ", ""),        # block sequences: two characters a level
    ("[", "]"),        # flow sequences
    ("{a: ", "}"),     # flow mappings
    ("[é, ", "]"),     # non-ASCII: the pure-Python parser, not libyaml
])
def test_yaml_nested_past_the_composers_stack_is_a_located_limit_error(
    opening: str, closing: str
) -> None:
    """Raised RecursionError: PyYAML's composer recurses once per level (~900 levels), before
    netspec's walker could count them. Now the 65th collection is reported where it opens: the
    root mapping is the 1st, the one at column 3 of line 3 the 2nd, so the 65th opens 63
    openings further right."""
    levels = 5000
    nesting = opening * levels + ("ReLU" if not closing else "1" if "a" in opening else "")
    nesting += closing * levels
    with pytest.raises(LimitError, match="deeper than 64 levels") as caught:
        netspec.load(f"input: [3, 8, 8]\nlayers:\n  {nesting}\n")
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (3, 3 + 63 * len(opening))


def test_a_parameter_too_wide_for_128_bits_is_located_in_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Found by the 10,000-example command-line campaign: the message's file was a path object
    (not text), and showing it raised AttributeError instead of the located error."""
    from netspec.cli import main

    argv = ["summary", "tests/data/hostile_fuzz.yaml", "--no-confirm", "--set",
            "width=" + "10" * 30]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "tests/data/hostile_fuzz.yaml" in err and "params.width" in err
    assert "no size in a spec needs more than 128" in err
