"""Golden files: expected output pinned in ``tests/golden/``.

A golden file pins formatting, not numbers (numbers are checked against hand arithmetic and torch
elsewhere). After an intended change of layout, regenerate them and review the diff:

    NETSPEC_UPDATE_GOLDEN=1 pytest tests/views/test_render.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NETSPEC_UPDATE_GOLDEN") == "1"


def assert_golden(name: str, text: str) -> None:
    """``text`` equals ``tests/golden/<name>``; with NETSPEC_UPDATE_GOLDEN=1, (re)write it."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no golden file {path}; create it with NETSPEC_UPDATE_GOLDEN=1 pytest {name}")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"output differs from {path}; if the change is intended, regenerate with "
        "NETSPEC_UPDATE_GOLDEN=1 pytest tests/views/test_render.py and review the diff"
    )
