"""Hypothesis strategies for hostile input: expressions, Python sources and command lines.

Each draws what an attacker would try rather than what a spec writer would: huge and tiny
numbers, nested function calls, names that shadow kinds, objects that are no plain data, lists
shared by several parents, control characters, arguments past every bound.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from netspec.reading.expressions import FUNCTIONS

NAMES = ("width", "depth", "alpha", "same", "ReLU", "undefined")
NUMBERS = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["0", "1", "2", "-1", "1000000000000000", "1e15", "1e16", "1e308", "1e999",
                     ".5", "0.1", "1_000", "007"]),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x!r}"),
)
OPERATORS = ("+", "-", "*", "/", "//", "%")


def _call(args: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda name, items: f"{name}({', '.join(items)})",
                     st.sampled_from([*FUNCTIONS, "pow", "eval", "__import__"]),
                     st.lists(args, min_size=0, max_size=4))


def _expression_tree() -> st.SearchStrategy[str]:
    leaves = st.one_of(NUMBERS, st.sampled_from(NAMES))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(OPERATORS), inner),
        inner.map(lambda a: f"({a})"),
        inner.map(lambda a: f"-{a}"),
        _call(inner),
    ), max_leaves=12)


def expressions() -> st.SearchStrategy[str]:
    """Expression text: well formed, or broken by a stray token, or not an expression at all."""
    junk = st.text(st.sampled_from("()+-*/%,.e_ x1**<<"), max_size=30)
    return st.one_of(
        _expression_tree(),
        st.builds(lambda a, b: a + b, _expression_tree(), junk),
        junk,
        st.text(max_size=40),
    )


# --- Python sources ---


class _LoudRepr:
    """An object whose ``repr`` raises: no message may ever print it."""

    def __repr__(self) -> str:
        raise RuntimeError("repr of a hostile object")


def _huge() -> int:
    return 10**5000  # drawn by a function: hypothesis itself could not print it


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
    st.text(max_size=12), st.sampled_from([
        "ReLU", "Conv2d", "same", "valid", "width", "\ud800", "\x00", "a\u2028b",
        -(10**400), 2**48, 2**48 + 1, 0, -1]),
    st.builds(_huge), st.binary(max_size=6), st.builds(_LoudRepr), st.builds(set),
    st.builds(object), st.complex_numbers(max_magnitude=10),
)
KEYS = st.one_of(
    st.sampled_from(["input", "layers", "params", "blocks", "name", "expect", "Conv2d", "ReLU",
                     "Linear", "Sequential", "Repeat", "times", "out_channels", "kernel_size",
                     "stride", "padding", "out_features", "body", "shortcut", "width"]),
    st.text(max_size=6), st.integers(-3, 3), st.builds(_LoudRepr), st.none(),
)


def _values() -> st.SearchStrategy[Any]:
    return st.recursive(SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(KEYS, inner, max_size=4),
        inner.map(lambda item: [item, item]),  # one object, two parents
    ), max_leaves=20)


@st.composite
def python_sources(draw: st.DrawFn) -> Any:
    """A spec in Python: near a valid one, with hostile parts; sometimes shared many times
    (2^depth paths) or inside itself; sometimes not a dict at all."""
    layers: list[Any] = draw(st.lists(st.one_of(
        st.sampled_from(["ReLU", {"Conv2d": {"out_channels": 4, "kernel_size": 3}}]),
        st.dictionaries(KEYS, _values(), min_size=1, max_size=1)), max_size=4))
    data: dict[Any, Any] = {"input": draw(st.one_of(st.just([3, 16, 16]), _values())),
                            "layers": layers}
    data.update(draw(st.dictionaries(KEYS, _values(), max_size=2)))
    shape = draw(st.sampled_from(["plain", "shared", "cycle", "not a dict"]))
    if shape == "shared":  # the billion laughs in Python objects
        shared: list[Any] = ["ReLU"]
        for _ in range(draw(st.integers(1, 40))):
            shared = [shared, shared]
        data["layers"] = shared
    elif shape == "cycle":
        layers.append({"Sequential": {"layers": layers}})
    elif shape == "not a dict":
        return draw(SCALARS)
    return data


# --- command lines ---

ARGUMENT_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["3x224x224", "1x2x3x4x5x6", "0x3", "-1", "3x" + "9" * 30, "1e9",
                     "width=32", "width=", "=3", "width=a\x07b", "width=[1, 2]", "width={a: 1}",
                     "same=3", "width=" + "9" * 5000, "10" * 30, "x", ""]),
    st.integers().map(str),
)
SHAPES = st.one_of(
    st.lists(st.integers(1, 40), min_size=1, max_size=4),
    st.lists(st.integers(-1, 10**9), min_size=0, max_size=7),
).map(lambda sizes: "x".join(map(str, sizes)))
ASSIGNMENTS = st.builds(lambda name, value: f"{name}={value}",
                        st.sampled_from(["width", "same", "ReLU", "widht", " ", ""]),
                        st.one_of(st.integers(-(10**20), 10**20).map(str), ARGUMENT_TEXT))
VALUES: dict[str, st.SearchStrategy[str] | None] = {
    "--set": ASSIGNMENTS, "--set-a": ASSIGNMENTS, "--set-b": ASSIGNMENTS,
    "--input": SHAPES, "--input-a": SHAPES, "--input-b": SHAPES,
    "--depth": st.integers(-(10**20), 10**20).map(str),
    "--format": st.sampled_from(["json", "table", "markdown", "text", "svg", "mermaid", "x"]),
    "--max-params": st.sampled_from(["1", "1e3", "2e9", "0", "-5", "1e999", "nan", "inf"]),
    "--inputs": None, "--strict": None, "--explain": None, "--all": None, "--exit-code": None,
}
"""Each option with values of its own type (no ``-o``: it would write files)."""
ACCEPTED = {
    "check": ("--set", "--format", "--strict", "--inputs"),
    "summary": ("--set", "--input", "--format", "--depth", "--explain", "--inputs",
                "--max-params"),
    "diff": ("--set", "--set-a", "--set-b", "--input-a", "--input-b", "--all", "--format",
             "--exit-code"),
    "draw": ("--set", "--format", "--depth"),
    "layers": (),
}
"""The options each command takes (others are drawn too, but rarely: argparse refuses them)."""


@st.composite
def command_lines(draw: st.DrawFn, spec: str) -> list[str]:
    """``check``, ``summary --no-confirm``, ``diff`` or ``draw`` on ``spec`` with random
    options and values (never ``export``: it would import torch and write files)."""
    command = draw(st.sampled_from(["check", "summary", "diff", "draw", "layers"]))
    argv = [command, spec] if command != "layers" else [command]
    if command == "summary":
        argv.append("--no-confirm")
    for _ in range(draw(st.integers(0, 4))):
        usual = ACCEPTED[command] and draw(st.integers(0, 9)) > 0
        option = draw(st.sampled_from(ACCEPTED[command] if usual else sorted(VALUES)))
        argv.append(option)
        values = VALUES[option]
        if values is not None:
            hostile = draw(st.integers(0, 3)) == 0
            argv.append(draw(st.one_of(values, ARGUMENT_TEXT) if hostile else values))
    return argv
