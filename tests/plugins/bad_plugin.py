"""A plugin module for ``netspec --plugin tests.plugins.bad_plugin``: registers the misbehaving
test kinds (``Explodes``, ``Liar``) when imported."""

from __future__ import annotations

import netspec
from tests.plugins.kinds import Explodes, Liar

netspec.register_kind(Explodes)
netspec.register_kind(Liar)
