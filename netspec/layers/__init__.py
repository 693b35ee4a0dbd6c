"""Every layer kind netspec knows, one class each, and the union that validates a spec entry.

Importing a module below registers its kinds; ``AnyLayer`` is built from the registry, so adding a
kind means adding one class to one of these modules.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Discriminator, Tag

from . import activation, composite, conv, dropout, linear, norm, pool, reshape, upsample
from .activation import *  # noqa: F403
from .base import Layer, ParamCount, kind_of, registered_kinds
from .composite import *  # noqa: F403
from .conv import *  # noqa: F403
from .dropout import *  # noqa: F403
from .linear import *  # noqa: F403
from .norm import *  # noqa: F403
from .pool import *  # noqa: F403
from .reshape import *  # noqa: F403
from .upsample import *  # noqa: F403

_KIND_MODULES = (activation, composite, conv, dropout, linear, norm, pool, reshape, upsample)


def _entry_kind(value: Any) -> str | None:
    """The discriminator: which kind a spec entry names."""
    if isinstance(value, Layer):
        return value.kind
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if isinstance(key, str) else None
    return None


def _check_entry(value: Any) -> Any:
    """Reject malformed entries with a message that shows the accepted forms."""
    if isinstance(value, Layer):
        return value
    if isinstance(value, dict):
        if len(value) != 1:
            keys = ", ".join(repr(key) for key in value) or "nothing"
            raise ValueError(
                "a layer is a bare kind name or a one-key mapping `Kind: {args}`; received a "
                f"mapping with keys {keys} (indent the arguments under the kind)"
            )
        kind, args = next(iter(value.items()))
        if args is not None and not isinstance(args, dict):
            raise ValueError(
                f"the arguments of {kind} must be a mapping such as `{kind}: {{...}}`; "
                f"received {args!r}"
            )
    elif not isinstance(value, str):
        raise ValueError(
            f"a layer is a bare kind name or a one-key mapping `Kind: {{args}}`; received {value!r}"
        )
    else:
        kind = value
    try:
        kind_of(str(kind))
    except Exception as error:  # a SpecError; pydantic wants ValueError
        raise ValueError(str(error.args[0]).split(": ", 1)[-1]) from None
    return value


def _layer_union() -> Any:
    members = tuple(Annotated[cls, Tag(name)] for name, cls in registered_kinds().items())
    return Annotated[
        Annotated[Union[members], Discriminator(_entry_kind)],  # noqa: UP007
        BeforeValidator(_check_entry),
    ]


AnyLayer = _layer_union()
"""A spec entry: any registered kind, written bare, as ``Kind: {args}``, or as an instance."""

for _cls in registered_kinds().values():
    if not _cls.__pydantic_complete__:  # composite kinds refer to AnyLayer
        _cls.model_rebuild(_types_namespace={"AnyLayer": AnyLayer})

__all__ = [
    "AnyLayer",
    "Layer",
    "ParamCount",
    "kind_of",
    "registered_kinds",
    *(name for module in _KIND_MODULES for name in getattr(module, "__all__", ())),
]
