"""Safety limits, checked before the work they bound: how big a network may expand, how deep
composite layers may nest, and how much memory ``build`` may allocate.

The size of the text is bounded where it is read (``yaml_source``: bytes, values, depth, alias
expansion) and blocks where they expand (``templates``); what remains is what a few short lines
can still ask for. ``Repeat`` multiplies: ``Repeat: {times: 1000, layers: [...]}`` inside
another multiplies again. So the expanded size is counted from the validated spec, recursively
and without expanding anything, before the analysis walks it.

Memory: a parameter or buffer element costs its dtype's size (4 bytes in float32). ``build``
refuses more than ``DEFAULT_MAX_PARAMS`` elements (8 GB in float32) unless told otherwise
(``max_params=``, ``--max-params``), so a typo such as ``out_features: 10000000000`` fails in
milliseconds instead of exhausting memory. ``device="meta"`` allocates nothing and is never
refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from math import prod
from typing import TYPE_CHECKING

from .errors import LimitError, Problem, SpecPath

if TYPE_CHECKING:
    from .analysis import Report
    from .layers.base import Layer
    from .spec import Spec

MAX_LAYERS = 100_000
"""Modules after ``Repeat`` copies and blocks are expanded, composite containers included."""

MAX_NESTING = 10
"""Composite layers (groups, residual blocks, branches, repeats) inside one another. The zoo
nests at most 4 deep (MobileNetV2); torchinfo's totals take time exponential in module depth
(about 3 s for the summary of 10 nested residual blocks), so deeper is refused."""

MAX_VALUES = 2**48
"""Values in any one tensor of one sample (an activation, a layer's parameters): 281 trillion,
a petabyte in float32. torch cannot even describe a tensor past 2^63 values, so a spec past
this is a mistake (``scale_factor: 10000000000``) that must be refused, not analysed."""

DEFAULT_MAX_PARAMS = 2_000_000_000
"""Parameter and buffer elements ``build`` allocates without being told more: 8 GB in float32."""


def check_size(spec: Spec) -> None:
    """Refuse a spec that expands past ``MAX_LAYERS`` or nests past ``MAX_NESTING``.

    Counts without expanding: a ``Repeat`` counts its layers once, times ``times``.
    """
    from .layers.composite import module_count

    if prod(spec.input) > MAX_VALUES:
        raise LimitError(spec.source.problem(("input",), _too_many("the input", spec.input)))
    total = 0
    largest: tuple[int, int] = (0, 0)
    for index, layer in enumerate(spec.layers):
        depth = _nesting(layer)
        count = module_count(layer)
        total += count
        largest = max(largest, (count, index))
        if depth > MAX_NESTING:
            raise LimitError(spec.source.problem(("layers", index, layer.kind), (
                f"composite layers nest {depth} deep here; the limit is {MAX_NESTING}")))
    if total > MAX_LAYERS:
        count, index = largest
        raise LimitError(spec.source.problem(("layers", index, spec.layers[index].kind), (
            f"the spec expands to {total:,} layers (Repeat copies and blocks counted); the "
            f"limit is {MAX_LAYERS:,}; this entry alone expands to {count:,}")))


def check_values(shape: Sequence[int], params: int, path: SpecPath, what: str) -> None:
    """Refuse a tensor of ``shape`` or ``params`` parameters past ``MAX_VALUES`` (one sample)."""
    if prod(shape) > MAX_VALUES:
        raise LimitError(Problem(_too_many(what, shape), path))
    if params > MAX_VALUES:
        raise LimitError(Problem(
            f"this layer would have {_count(params)} parameters; the limit is 2^48 = "
            f"{MAX_VALUES:,} in any tensor: check its sizes", path))


def check_memory(
    report: Report, spec: Spec, max_params: int | None, element_size: int, dtype_name: str
) -> None:
    """Refuse to allocate more than ``max_params`` parameter and buffer elements.

    Raises ``LimitError`` naming the count, the bytes, the largest layer and the ways out.
    """
    elements = report.params + report.buffers
    if max_params is None or elements <= max_params:
        return
    rows = report.top_level()
    biggest = max(rows, key=lambda row: row.params + row.buffers)
    share = biggest.params + biggest.buffers
    raise LimitError(spec.source.problem(spec.source.path_of_row(biggest.path), (
        f"building would allocate {elements:,} parameter and buffer elements "
        f"({_bytes(elements * element_size)} as {dtype_name}), {share:,} of them in this "
        f"{biggest.kind}; the limit is max_params={max_params:,}: raise it (max_params=N, "
        "--max-params N) if this is intended, or build on device='meta', which allocates "
        "nothing")))


def parse_count(text: str) -> int:
    """``2000000000``, ``2_000_000_000`` or ``2e9`` -> 2000000000. Raises ``ValueError``."""
    cleaned = text.replace("_", "").strip()
    try:
        return int(cleaned)
    except ValueError:
        value = float(cleaned)
    if not value.is_integer():
        raise ValueError(f"not a whole number: {text!r}")
    return int(value)


def _children(layer: Layer) -> Iterator[Sequence[Layer]]:
    """The layer lists a composite holds (body, shortcut, post, each branch...)."""
    from .layers.base import Layer

    for key in type(layer).model_fields:
        value = getattr(layer, key)
        if not isinstance(value, tuple):
            continue
        if all(isinstance(item, Layer) for item in value):
            yield value
        elif all(isinstance(item, tuple) for item in value):
            yield from (v for v in value if all(isinstance(i, Layer) for i in v))


def _nesting(layer: Layer) -> int:
    """How many composite layers are nested here, this one included (0 for a leaf)."""
    depths = [_nesting(child) for layers in _children(layer) for child in layers]
    return 1 + max(depths, default=0) if getattr(layer, "composite", False) else 0


def _too_many(what: str, shape: Sequence[int]) -> str:
    return (f"{what} {list(shape)} holds {_count(prod(shape))} values for one sample; the "
            f"limit is 2^48 = {MAX_VALUES:,} in any tensor: check the sizes that lead here")


def _count(value: int) -> str:
    return f"{value:,}" if value < 10**18 else f"{value:.3g}"


def _bytes(count: int) -> str:
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count:,} bytes"
