"""Registering the plugins for a test, and leaving the registry as it was afterwards.

The example plugin (``tests/plugins/netspec_example_plugin``) is an installable package. The
tests never ``pip install`` it into the running environment (shared, and slow); they put its
folder on ``sys.path`` and, for the entry-point way, a ``.dist-info`` folder with its
``entry_points.txt`` next to it, which ``importlib.metadata`` reads exactly as it reads an
installed package's.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import netspec
from netspec.layers import registry
from netspec.layers.base import Layer

EXAMPLE = Path(__file__).parent / "netspec_example_plugin"
"""The example plugin's project folder (its pyproject.toml and package)."""

ENTRY_POINTS = """\
[netspec.kinds]
GatedUnit = netspec_example_plugin.kinds:GatedUnit
"""

SPEC = """\
name: gated
input: [3, 16, 16]
layers:
  - Conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
  - GatedUnit: {out_channels: 12}
  - MaxPool2d: {kernel_size: 2}
  - GatedUnit: {out_channels: 4, bias: false, gate: tanh}
  - Flatten
  - Linear: {out_features: 10}
"""
"""A spec with the example kind: line 5 names it first (column 5)."""


def write_dist_info(site: Path) -> Path:
    """What ``pip install`` leaves in site-packages for the example, reduced to the metadata
    that ``importlib.metadata.entry_points`` reads."""
    info = site / "netspec_example_plugin-0.1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: netspec-example-plugin\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


def forget_example() -> None:
    """Unregister the example kind and unload its package, so that the next test registers it
    again in its own way."""
    registry.forget("GatedUnit")
    for name in [name for name in sys.modules if name.startswith("netspec_example_plugin")]:
        del sys.modules[name]


@contextmanager
def registered(*kinds: type[Layer]) -> Iterator[None]:
    """``kinds`` registered with ``netspec.register_kind`` for the block, forgotten after."""
    try:
        for cls in kinds:
            netspec.register_kind(cls)
        yield
    finally:
        for cls in kinds:
            registry.forget(cls.kind)
