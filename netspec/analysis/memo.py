"""Work done once per spec object: a ``Spec`` is frozen, so what follows from it never changes.

``netspec.summary`` loads a spec (which analyses it), analyses it, then builds it (which loads
and analyses it again, and ``build`` counts its parameters from the analysis): each of those is
the same spec object, and ``analyze`` now walks it once. Results are held while the spec lives
and keyed by identity, so two equal specs from different files never share a result; failures
are never kept, since their messages are located in the spec's own source.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from netspec.reading.spec import Spec

Result = TypeVar("Result")


def once_per_spec(compute: Callable[[Spec], Result]) -> Callable[[Spec], Result]:
    """``compute(spec)``, remembered for as long as that very ``spec`` object lives."""
    results: dict[int, tuple[weakref.ref[Spec], Result]] = {}

    @functools.wraps(compute)
    def remembered(spec: Spec) -> Result:
        key = id(spec)
        known = results.get(key)
        if known is not None and known[0]() is spec:
            return known[1]
        result = compute(spec)

        def forget(ref: weakref.ref[Spec]) -> None:
            if results.get(key, (None,))[0] is ref:
                del results[key]

        results[key] = (weakref.ref(spec, forget), result)
        return result

    return remembered
