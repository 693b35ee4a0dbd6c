"""libyaml reads a spec exactly as the pure-Python composer does: same data, same positions,
and the same errors (which the pure-Python composer always words)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from netspec.core.errors import NetspecError
from netspec.reading import yaml_source

ROOT = Path(__file__).parents[2]
CORPUS = sorted(
    path for pattern in ("specs/*.yaml", "tests/data/*.yaml", "tests/bad_specs/*.yaml",
                         "benchmarks/specs/*.yaml")
    for path in ROOT.glob(pattern)
)
TRICKY = [
    "input: [3, 32, 32]\nlayers:\n  - Conv2d: {out_channels: 8,\tkernel_size: 3}\n",  # tab
    "input: [3, 32, 32]\nlayers:\n  - Conv2d: {out?_channels: 8, kernel_size: 3}\n",  # ? in flow
    "input: [!3, 32, 32]\nlayers: [ReLU]\n",  # a tag ended by a comma
    "input: [3, 32, 32]\nlayers:\n  - Conv2d: {out_channels: 8, k\u00e9rnel_size: 3}\n",
    "\ufeffinput: [3, 32, 32]\nlayers: [ReLU]\n",
    "name: \u00fc\u20ac\U0001f600\ninput: [3, 32, 32]\nlayers: [ReLU, {ReLU: {name: \u00e9}}, x]\n",
    "input: " + "[" * 70 + "]" * 70 + "\nlayers: [ReLU]\n",  # deeper than MAX_DEPTH
    "input: [3, 32, 32]\nlayers: [ReLU]\n---\ninput: [1]\n",  # two documents
    "input: *nowhere\n",  # undefined alias
    "a: &x 1\nb: &x 2\n",  # duplicate anchor
    "input: [3, 32\nlayers: [ReLU]\n",  # unclosed flow sequence
    "",
    "# only a comment\n",
]


def outcome(text: str, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(yaml_source, "_compose_fast", lambda _: yaml_source._UNREAD)
        try:
            data, positions = yaml_source.parse_yaml(text, "spec.yaml")
        except NetspecError as error:
            return type(error).__name__, [str(problem) for problem in error.problems]
    return data, positions


def mutants(seed: int, count: int) -> list[str]:
    """Bundled specs with a few characters inserted, deleted or replaced."""
    rng = random.Random(seed)
    texts = [path.read_text() for path in CORPUS if path.stat().st_size]
    marks = [*":-[]{},#&*!|>'\"%@` \n?x0.\r\\", "  ", "- ", ": ", "\t", "\u00e9", "\u20ac",
             "\U0001f600", "\u3000", "- \u00fc", "\u00e9: "]
    found = []
    for _ in range(count):
        chars = list(rng.choice(texts))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(chars))
            action = rng.random()
            if action < 0.4:
                chars.insert(at, rng.choice(marks))
            elif action < 0.7:
                del chars[at]
            else:
                chars[at] = rng.choice(marks)
        found.append("".join(chars))
    return found


@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.stem}" for p in CORPUS])
def test_every_corpus_file_reads_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_text()
    assert outcome(text, fast=True, monkeypatch=monkeypatch) == outcome(
        text, fast=False, monkeypatch=monkeypatch)


@pytest.mark.parametrize("text", TRICKY)
def test_where_the_parsers_differ_the_python_one_decides(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert outcome(text, fast=True, monkeypatch=monkeypatch) == outcome(
        text, fast=False, monkeypatch=monkeypatch)


def test_mutated_specs_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    for text in mutants(seed=5, count=400):
        assert outcome(text, fast=True, monkeypatch=monkeypatch) == outcome(
            text, fast=False, monkeypatch=monkeypatch), text


def test_a_plain_spec_takes_libyaml() -> None:
    text = (ROOT / "specs" / "vgg16.yaml").read_text()
    assert yaml_source._compose_fast(text) is not yaml_source._UNREAD
    accented = "name: r\u00e9seau \u20ac\ninput: [3, 8, 8]\nlayers: [ReLU]\n"  # not ASCII
    assert yaml_source._compose_fast(accented) is not yaml_source._UNREAD


def test_mutants_with_wide_characters_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Characters of 2, 3 and 4 bytes in UTF-8: libyaml counts their columns as characters."""
    for text in mutants(seed=16, count=600):
        assert outcome(text, fast=True, monkeypatch=monkeypatch) == outcome(
            text, fast=False, monkeypatch=monkeypatch), text
