"""Every layer kind netspec knows, one class each, and the union that validates a spec entry.

Importing a module below registers its kinds; ``AnyLayer`` validates an entry by the registry, so
adding a kind means adding one class to one of these modules.
"""

from __future__ import annotations

from . import activation, composite, conv, dropout, linear, norm, pool, reshape, upsample
from .activation import *  # noqa: F403
from .base import AnyLayer, Layer, ParamCount, kind_of, registered_kinds
from .composite import *  # noqa: F403
from .conv import *  # noqa: F403
from .dropout import *  # noqa: F403
from .linear import *  # noqa: F403
from .norm import *  # noqa: F403
from .pool import *  # noqa: F403
from .reshape import *  # noqa: F403
from .upsample import *  # noqa: F403

_KIND_MODULES = (activation, composite, conv, dropout, linear, norm, pool, reshape, upsample)


__all__ = [
    "AnyLayer",
    "Layer",
    "ParamCount",
    "kind_of",
    "registered_kinds",
    *(name for module in _KIND_MODULES for name in getattr(module, "__all__", ())),
]
