"""The field types that layer kinds share: strict integers bounded by 2^48, per-axis sizes,
and the checks of a sample's layout (``[C, H, W]``...)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict

MAX_INT = 2**48
"""No size, count, step or dim in a spec goes past this (torch's own limit is int64, and no tensor
netspec accepts holds more values: ``netspec.limits.MAX_VALUES``)."""


def _at_most_max_int(value: int) -> int:
    """A validator, not ``le=``: a field's own ``le=`` (``Repeat.times``) must stay in force."""
    if abs(value) > MAX_INT:
        shown = f"{value:,}" if abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit number"
        raise ValueError(f"Input should be at most 2^48 = {MAX_INT:,}; received {shown}")
    return value


StrictInt = Annotated[int, Strict(), AfterValidator(_at_most_max_int)]
PositiveInt = Annotated[int, Strict(), Field(gt=0), AfterValidator(_at_most_max_int)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0), AfterValidator(_at_most_max_int)]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
ModuleName = Annotated[
    str,
    Strict(),
    Field(min_length=1, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
]
# Fields given as an int or a per-axis list, as torch's kernel_size=(4, 5).
PerAxisPositive = PositiveInt | tuple[PositiveInt, ...]
PerAxisNonNegative = NonNegativeInt | tuple[NonNegativeInt, ...]

LAYOUTS = {1: "[C]", 2: "[C, L]", 3: "[C, H, W]", 4: "[C, D, H, W]"}
"""How one sample is laid out, by number of dims (for error messages)."""


def spatial_layout(rank: int) -> str:
    """The sample layout of a layer with ``rank`` spatial axes: ``[C, H, W]`` for rank 2."""
    return LAYOUTS[rank + 1]


def per_axis(value: int | tuple[int, ...], rank: int) -> tuple[int, ...]:
    """An int or per-axis tuple as exactly ``rank`` values (lengths are checked by the schema)."""
    return (value,) * rank if isinstance(value, int) else tuple(value)


def check_axis_count(value: Any, rank: int) -> Any:
    """Field validator body: a per-axis tuple must have one value per spatial axis."""
    if isinstance(value, tuple) and len(value) != rank:
        raise ValueError(f"needs 1 or {rank} values (one per spatial axis); received {list(value)}")
    return value
