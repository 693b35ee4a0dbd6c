"""The ``expect:`` section of a spec: what the analysis must show (checked by
``netspec.advice.expect``, so that CI can gate on it).

    expect:
      output_shape: [10]
      max_params: 100000            # or params: 61706 for an exact count
      max_macs: 500000
      min_receptive_field: 28       # per spatial axis: an int for all, or a list
      output_stride: 4              # jump of the last feature map that still has positions

A broken expectation is an error located at its line in the spec (exit status 1). No torch.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from netspec.core.errors import did_you_mean

PositiveInt = Annotated[int, Strict(), Field(gt=0)]
Count = Annotated[int, Strict(), Field(ge=0)]
PerAxis = PositiveInt | tuple[PositiveInt, ...]


class Expect(BaseModel):
    """What the analysis must show; every key is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    output_shape: tuple[PositiveInt, ...] | None = Field(
        default=None, description="The exact output shape of one sample: [10]."
    )
    params: Count | None = Field(default=None, description="The exact parameter count.")
    max_params: Count | None = Field(default=None, description="At most this many parameters.")
    max_macs: Count | None = Field(default=None, description="At most this many MACs per sample.")
    min_receptive_field: PerAxis | None = Field(
        default=None,
        description="The final receptive field is at least this per spatial axis (an int for "
        "every axis, or a list).",
    )
    output_stride: PerAxis | None = Field(
        default=None,
        description="The jump (input pixels between neighbouring units) of the last feature "
        "map that still has positions, per spatial axis: 32 for ResNet-18.",
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        """An unknown key is a typo of a known one, or names what can be expected."""
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    guess = did_you_mean(str(key), cls.model_fields)
                    hint = f"did you mean {guess}?" if guess else (
                        f"expectations: {', '.join(cls.model_fields)}")
                    raise ValueError(f"unknown expectation {key!r}; {hint}")
        return data

    def to_data(self) -> dict[str, Any]:
        """The keys that are set, as plain YAML data."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in self.model_dump(exclude_none=True).items()
        }
