"""The field types that layer kinds share: strict integers bounded by 2^48, per-axis sizes,
and the checks of a sample's layout (``[C, H, W]``...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, Field, GetJsonSchemaHandler, Strict
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

MAX_INT = 2**48
"""No size, count, step or dim in a spec goes past this (torch's own limit is int64, and no tensor
netspec accepts holds more values: ``netspec.limits.MAX_VALUES``)."""


@dataclass(frozen=True)
class SchemaBounds:
    """Bounds that a validator enforces with its own message, written into the JSON Schema too
    (draft-07 keywords), so that the schema rejects what the kind rejects."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    excluded: float | None = None  # one value refused (``divisor_override: 0``)

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        for key, value, tighter in (("minimum", self.minimum, max),
                                    ("maximum", self.maximum, min),
                                    ("exclusiveMinimum", self.exclusive_minimum, max)):
            if value is not None:  # a field's own bound (``le=``) may be tighter: keep it
                schema[key] = tighter(schema.get(key, value), value)
        if self.excluded is not None:
            schema["not"] = {"const": self.excluded}
        return schema


def _at_most_max_int(value: int) -> int:
    """A validator, not ``le=``: a field's own ``le=`` (``Repeat.times``) must stay in force."""
    if abs(value) > MAX_INT:
        shown = f"{value:,}" if abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit number"
        raise ValueError(f"Input should be at most 2^48 = {MAX_INT:,}; received {shown}")
    return value


_WITHIN_MAX_INT = SchemaBounds(minimum=-MAX_INT, maximum=MAX_INT)
_UP_TO_MAX_INT = SchemaBounds(maximum=MAX_INT)
StrictInt = Annotated[int, Strict(), AfterValidator(_at_most_max_int), _WITHIN_MAX_INT]
PositiveInt = Annotated[
    int, Strict(), Field(gt=0), AfterValidator(_at_most_max_int), _UP_TO_MAX_INT
]
NonNegativeInt = Annotated[
    int, Strict(), Field(ge=0), AfterValidator(_at_most_max_int), _UP_TO_MAX_INT
]
Float = Annotated[float, Strict()]
Probability = Annotated[float, Strict(), SchemaBounds(minimum=0, maximum=1)]
"""A float in [0, 1]; the kind's validator says so in its own words."""
PositiveFloat = Annotated[float, Strict(), SchemaBounds(exclusive_minimum=0)]
"""A float above 0; the kind's validator says so in its own words."""
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
