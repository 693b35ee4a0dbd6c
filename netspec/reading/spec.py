"""The spec model: a network's input shape and its list of layers, as written in YAML."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    field_validator,
    model_validator,
)

from netspec.core.errors import Problem, SpecError, SpecPath, format_path
from netspec.core.lint_codes import check_codes
from netspec.layers.base import Layer
from netspec.reading.expect import Expect

if TYPE_CHECKING:
    from netspec.layers.base import Layer as AnyLayer
else:
    from netspec.layers.registry import AnyLayer

MAX_INPUT_DIMS = 5

InputDtype = Literal["float", "long"]
"""What one input sample holds: real values (images, signals) or integer ids (``long``: token
ids for ``Embedding``)."""

Position = tuple[int, int]


class SourceMap:
    """Where each spec path sits in its file: ``path -> (line, column)``, 1-based.

    Specs built from a dict or in Python have paths but no positions; every problem is still
    reported with its spec path.
    """

    def __init__(
        self, file: str | None = None, positions: dict[SpecPath, Position | None] | None = None
    ) -> None:
        self.file = file
        self.positions: dict[SpecPath, Position | None] = positions or {}
        self._by_row_path: dict[SpecPath, SpecPath] | None = None

    def nearest(self, path: SpecPath) -> SpecPath:
        """The longest prefix of ``path`` that exists in the document."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.positions:
                return path[:end]
        return ()

    def locate(self, problem: Problem) -> Problem:
        """``problem`` with the file, line and column of the nearest part of the document."""
        position = self.positions.get(self.nearest(problem.path))
        line, column = position if position else (None, None)
        return Problem(problem.message, problem.path, self.file, line, column)

    def problem(self, path: SpecPath, message: str) -> Problem:
        """A problem at ``path``, located in the document."""
        return self.locate(Problem(message, path))

    def path_of_row(self, text: str) -> SpecPath:
        """A report row's path text (``layers[4].layers[0]``) back to the spec path that has a
        position in the document; the text itself when none matches.

        Row paths leave out the kind names that spec paths hold after each list index
        (``layers[4].Sequential.layers[0].Residual.body[0]`` is row ``layers[4].layers[0].body[0]``,
        written in a block's definition), so both are compared without them. A layer that no
        line writes (the projection of ``shortcut: auto``) is located at its nearest written
        parent.
        """
        for path in self.positions:
            if format_path(path) == text:
                return path
        if self._by_row_path is None:
            self._by_row_path = {}
            for path in self.positions:
                self._by_row_path.setdefault(_without_kinds(path), path)
        wanted = _without_kinds(_parse_path(text))
        for end in range(len(wanted), 0, -1):  # a generated layer: where its parent is written
            if wanted[:end] in self._by_row_path:
                return self._by_row_path[wanted[:end]]
        return (text,)


_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def _parse_path(text: str) -> SpecPath:
    """``layers[4].body[0]`` -> ``("layers", 4, "body", 0)``: ``format_path`` undone."""
    return tuple(int(index) if index else name for index, name in _PATH_PART.findall(text))


def _without_kinds(path: SpecPath) -> SpecPath:
    """``path`` without the kind names (capitalised) that follow a list index."""
    return tuple(part for i, part in enumerate(path) if not (
        i and isinstance(path[i - 1], int) and isinstance(part, str) and part[:1].isupper()))


class Spec(BaseModel):
    """A sequential network: one input sample's shape, then layers applied in order.

    Example::

        name: lenet5
        input: [1, 28, 28]
        layers:
          - Conv2d: {out_channels: 6, kernel_size: 5, padding: 2}
          - Sigmoid
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: Annotated[str, Strict()] | None = Field(default=None, description="Network name.")
    input: tuple[Annotated[int, Strict(), Field(gt=0)], ...] = Field(
        min_length=1,
        max_length=MAX_INPUT_DIMS,
        description="One input sample's shape, without the batch dimension: [C, H, W]; or "
        "{shape: [128], dtype: long} for integer ids (token ids for Embedding).",
    )
    input_dtype: InputDtype = Field(
        default="float",
        description="float (default) or long (integer ids); written as input: {shape, dtype}.",
    )
    layers: tuple[AnyLayer, ...] = Field(description="The layers, in order.")
    expect: Expect | None = Field(
        default=None, description="What the analysis must show; checked by netspec check."
    )
    lint_ignore: tuple[Annotated[str, Strict()], ...] = Field(
        default=(), description="Lint codes silenced for the whole spec (docs/lints.md)."
    )

    _source: SourceMap = PrivateAttr(default_factory=SourceMap)

    @model_validator(mode="before")
    @classmethod
    def _input_mapping(cls, data: Any) -> Any:
        """``input: {shape: [128], dtype: long}`` -> ``input: [128]``, ``input_dtype: long``."""
        if not isinstance(data, dict) or not isinstance(data.get("input"), dict):
            return data
        given = dict(data["input"])
        unknown = sorted(map(str, set(given) - {"shape", "dtype"}))
        if unknown or "shape" not in given:
            raise ValueError(
                "input: as a mapping takes shape (required) and dtype (float or long), such as "
                f"{{shape: [128], dtype: long}}; received keys {sorted(map(str, given))}"
            )
        rest = {key: value for key, value in data.items() if key != "input"}
        return {**rest, "input": given["shape"], "input_dtype": given.get("dtype", "float")}

    @field_validator("lint_ignore")
    @classmethod
    def _known_lint_codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        return check_codes(codes)

    @field_validator("layers")
    @classmethod
    def _at_least_one_layer(cls, layers: tuple[Layer, ...]) -> tuple[Layer, ...]:
        if not layers:
            raise ValueError("a spec needs at least one layer; received an empty list")
        return layers

    def __eq__(self, other: object) -> bool:
        """Equal networks: the same fields, wherever each spec was read from."""
        if not isinstance(other, Spec):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        return (self.name, self.input, self.input_dtype, self.layers, self.expect,
                self.lint_ignore)

    @property
    def source(self) -> SourceMap:
        """Where this spec came from (file and positions), for located errors."""
        return self._source

    def with_source(self, source: SourceMap) -> Spec:
        self._source = source
        return self

    def with_input(self, shape: tuple[int, ...]) -> Spec:
        """The same network for another input shape (``--input 3x224x224``)."""
        copy = self.model_copy(update={"input": tuple(shape)})
        copy._source = self._source
        return copy

    def to_data(self) -> dict[str, Any]:
        """Plain data in the spec format: what ``to_yaml`` writes and ``load`` reads back."""
        data: dict[str, Any] = {}
        if self.name is not None:
            data["name"] = self.name
        if self.input_dtype == "float":
            data["input"] = list(self.input)
        else:
            data["input"] = {"shape": list(self.input), "dtype": self.input_dtype}
        data["layers"] = [layer.entry() for layer in self.layers]
        if self.expect is not None:
            data["expect"] = self.expect.to_data()
        if self.lint_ignore:
            data["lint_ignore"] = list(self.lint_ignore)
        return data

    def to_yaml(self) -> str:
        """YAML that loads back to an equal spec."""
        return yaml.safe_dump(self.to_data(), sort_keys=False, default_flow_style=None)


def check_input_shape(shape: Sequence[int], spec: Spec) -> tuple[int, ...]:
    """An overriding input shape follows the same rule as ``input:`` in a spec."""
    values = tuple(shape)
    valid = all(type(size) is int and size > 0 for size in values)
    if not valid or not 1 <= len(values) <= MAX_INPUT_DIMS:
        raise SpecError(Problem(
            f"an input shape is 1 to {MAX_INPUT_DIMS} positive sizes for one sample, without "
            f"the batch dimension (such as 3x224x224); received {list(values)}",
            ("input",),
            spec.source.file,
        ))
    return values
