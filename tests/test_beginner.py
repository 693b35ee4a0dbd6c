"""Beginner mistakes, caught where they are made: each spec in ``tests/beginner/`` has one
mistake a newcomer makes (written for this corpus), and its first line says what netspec must
report and where: ``# expect: NS111 at line 8`` (a lint warning of that code) or ``# expect:
error "drop the batch dimension" at line 3`` (an error whose message says that). The same spec
with the mistake fixed, ``tests/beginner/fixed/<name>.yaml``, must check clean: no error, no
warning.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netspec.advice.checks import check_spec

CORPUS = Path(__file__).parent / "beginner"
MISTAKES = sorted(CORPUS.glob("*.yaml"))
EXPECT = re.compile(r'# expect: (?:(NS\d{3})|error "([^"]+)") at line (\d+)$')


def test_the_corpus_has_twenty_mistakes_each_with_its_fix() -> None:
    assert len(MISTAKES) >= 20
    assert {path.name for path in MISTAKES} == {path.name for path in (CORPUS / "fixed").glob(
        "*.yaml")}


@pytest.mark.parametrize("path", MISTAKES, ids=[path.stem for path in MISTAKES])
def test_the_mistake_is_reported_at_its_line(path: Path) -> None:
    found = EXPECT.match(path.read_text().splitlines()[0])
    assert found, f"{path.name}: first line must be `# expect: ...`"
    code, text, line = found.group(1), found.group(2), int(found.group(3))
    result = check_spec(path)
    if code:
        assert not result.errors, result.errors
        assert [(w.code, w.line) for w in result.warnings] == [(code, line)], result.warnings
    else:
        assert result.warnings == ()
        assert any(text in p.message and p.line == line for p in result.errors), result.errors


@pytest.mark.parametrize("path", MISTAKES, ids=[path.stem for path in MISTAKES])
def test_the_fixed_spec_checks_clean(path: Path) -> None:
    result = check_spec(CORPUS / "fixed" / path.name)
    assert result.errors == () and result.warnings == (), (result.errors, result.warnings)
