"""Fixtures: the example plugin on ``sys.path`` (registered by importing it, or by its entry
point), and a clean registry after every test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.setup import EXAMPLE, forget_example, write_dist_info


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    forget_example()
    yield
    forget_example()


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The example plugin, registered the Python way: importing it calls register_kind."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import netspec_example_plugin

    return netspec_example_plugin.GatedUnit


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The example plugin as if pip had installed it: its package and a dist-info folder with
    its entry point on ``sys.path``, nothing imported yet. Returns the site folder."""
    site = write_dist_info(tmp_path / "site")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(site))
    assert "netspec_example_plugin" not in sys.modules
    return site
