"""Reading hostile sources: each bound is checked before the work it bounds, with a located
netspec message (the subprocess ceilings are in tests/test_hostile.py)."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

import pytest

import netspec
from netspec import LimitError, SpecError
from netspec.layers.registry import registered_kinds
from netspec.reading.expressions import evaluate
from netspec.reading.templates import KEYWORD_VALUES
from netspec.reading.validation import data_paths
from netspec.reading.yaml_source import MAX_NODES


def only_problem(source: Any, **options: Any) -> netspec.Problem:
    with pytest.raises(SpecError) as caught:
        netspec.load(source, **options)
    [problem] = caught.value.problems
    return problem


# --- expressions ---


def test_round_digits_are_bounded_before_python_computes_them() -> None:
    assert evaluate("round(1234, -2)", {}) == 1200  # 12.34 hundreds -> 12 hundreds
    assert evaluate("round(2.675, 20)", {}) == round(2.675, 20)
    with pytest.raises(ValueError, match="round\\(\\) takes at most 20 digits"):
        evaluate("round(1, -1000000000000000)", {})  # would be 10^(10^15) inside round()
    with pytest.raises(ValueError, match="out of range"):
        evaluate("1000000000000000 * 1000000000000000", {})  # each intermediate is checked


def test_a_chain_of_1000_parameters_resolves_without_recursion() -> None:
    # p_i = p_(i+1) + 1 and p_999 = 1, so p_0 = 1 + 999 = 1000 (written last-used-first, so a
    # recursive resolver would go 1,000 frames deep)
    params = "".join(f"  p{i}: p{i + 1} + 1\n" for i in range(999)) + "  p999: 1\n"
    spec = netspec.load(f"params:\n{params}input: [3, 8, 8]\n"
                        "layers:\n  - Conv2d: {out_channels: p0, kernel_size: 1}\n")
    assert netspec.analyze(spec).output_shape == (1000, 8, 8)


def test_a_long_cycle_is_named_at_a_parameter_in_it() -> None:
    params = "".join(f"  p{i}: p{(i + 1) % 500} + 1\n" for i in range(500))
    problem = only_problem(f"params:\n{params}input: [3, 8, 8]\nlayers: [ReLU]\n")
    assert "parameters refer to each other in a cycle: p0 -> p1 -> p2" in problem.message
    assert problem.line is not None and 2 <= problem.line <= 501


@pytest.mark.parametrize(("name", "says"), [
    ("same", "the name of a keyword value"), ("nearest", "the name of a keyword value"),
    ("ReLU", "the name of a layer kind"), ("Conv2d", "the name of a layer kind")])
def test_a_parameter_may_not_shadow_a_kind_or_a_keyword(name: str, says: str) -> None:
    problem = only_problem(f"params:\n  {name}: 3\ninput: [3, 8, 8]\nlayers: [ReLU]\n")
    assert (problem.line, problem.column, problem.path) == (2, 3, ("params", name))
    assert says in problem.message


def test_a_block_parameter_may_not_shadow_a_keyword_either() -> None:
    problem = only_problem(
        "blocks:\n  B:\n    params: [valid]\n    layers: [ReLU]\ninput: [3, 8, 8]\nlayers: [B]\n")
    assert (problem.line, problem.path) == (3, ("blocks", "B", "params", 0))


def test_keyword_values_are_every_literal_a_kind_accepts() -> None:
    def literals(annotation: Any) -> set[str]:
        if get_origin(annotation) is Literal:
            return {value for value in get_args(annotation) if isinstance(value, str)}
        return set().union(*(literals(arg) for arg in get_args(annotation)))

    found = set().union(*(literals(field.annotation) for kind in registered_kinds().values()
                          for field in kind.model_fields.values()))
    assert found == KEYWORD_VALUES


# --- characters YAML text cannot hold ---


@pytest.mark.parametrize(("text", "line", "column", "code"), [
    ("input: [3, 8, 8]\nname: a\x07b\nlayers: [ReLU]\n", 2, 8, "U+0007"),
    ("input: [3, 8, 8]\nname: 'a\x00'\nlayers: [ReLU]\n", 2, 9, "U+0000"),
    ("input: [3, 8, 8]\n# ok\u2028\nlayers: [ReLU]\n", 2, 5, "U+2028"),
    ("input: [3, 8, 8]\nlayers: [ReLU]\nname: \x85\n", 3, 7, "U+0085"),
    ("input: [3, 8, 8]\nlayers: [ReLU]\nname: é\uffff\n", 3, 8, "U+FFFF"),
])
def test_unreadable_characters_are_refused_at_their_line(
    text: str, line: int, column: int, code: str,
) -> None:
    problem = only_problem(text)
    assert (problem.line, problem.column) == (line, column)
    assert code in problem.message


def test_every_ascii_character_is_judged_as_the_yaml_spec_says() -> None:
    """ASCII text takes a shorter pattern; every one of the 128 characters gets the verdict of
    YAML 1.1's printable set (tab, LF, CR and 0x20-0x7E), in ASCII text and in text that is
    not ASCII (which takes the full pattern)."""
    from netspec.reading.yaml_source import unreadable

    for code in range(128):
        allowed = code in (0x09, 0x0A, 0x0D) or 0x20 <= code <= 0x7E
        for text in (f"ab{chr(code)}", f"é{chr(code)}"):
            found = unreadable(text)
            assert (found is None) == allowed, (code, text)
            if found is not None:
                assert found[0] == len(text) - 1


def test_a_lone_surrogate_from_an_escape_is_refused() -> None:
    problem = only_problem('input: [3, 8, 8]\nlayers: [ReLU]\nname: "x\\udc80"\n')
    assert (problem.line, problem.path) == (3, ("name",))
    assert "lone surrogate" in problem.message


# --- specs given in Python ---


def test_a_shared_list_counts_at_every_use() -> None:
    shared = [1, 2, 3]
    # the root, input, its 3 sizes, layers and its 1 entry: 7 paths; the shared list twice more
    # (one path for the list and 3 for its items, at each of its two uses): 7 + 8 = 15
    data = {"input": [3, 8, 8], "layers": ["ReLU"], "a": shared, "b": shared}
    assert len(data_paths(data)) == 15


def test_lists_that_share_sub_lists_stop_at_the_value_limit() -> None:
    laughs: list[Any] = ["ReLU"]
    for _ in range(40):
        laughs = [laughs, laughs]
    with pytest.raises(LimitError, match=f"more than {MAX_NODES:,} values"):
        netspec.load({"input": [3, 8, 8], "layers": laughs})


def test_a_list_inside_itself_is_refused() -> None:
    layers: list[Any] = ["ReLU"]
    layers.append(layers)
    problem = only_problem({"input": [3, 8, 8], "layers": layers})
    assert problem.path == ("layers", 1)
    assert "contains itself" in problem.message


def test_an_object_whose_repr_raises_is_refused_by_type() -> None:
    class Loud:
        def __repr__(self) -> str:
            raise RuntimeError("never called")

    problem = only_problem({"input": [3, 8, 8], "layers": [{"Linear": {"bias": Loud()}}]})
    assert problem.path == ("layers", 0, "Linear", "bias")
    assert problem.message.startswith("a value of type Loud:")
    assert only_problem({"input": [3, 8, 8], "layers": ["ReLU"]},
                        params={"w": Loud()}).path == ("params", "w")


def test_bytes_are_utf8_yaml_text() -> None:
    spec = netspec.load(b"input: [3, 8, 8]\nlayers: [ReLU]\n")
    assert spec.input == (3, 8, 8)
    assert "not UTF-8 text (byte 0)" in only_problem(b"\xff").message
    assert "received float" in only_problem(1.5).message
