"""Safety limits, checked before the work they bound: how big a network may expand, how deep
composite layers may nest, and how much memory ``build`` may allocate. The numbers live here; the
checks on a whole spec are ``netspec.analysis.limits``.

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

from collections.abc import Sequence
from math import prod

from netspec.core.errors import LimitError, Problem, SpecPath

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

MAX_BATCH = 65_535
"""Samples in ``export``'s example input: its dynamic batch dimension goes up to 2^16, and the
check runs one sample more."""

MAX_EXAMPLE_VALUES = 2**28
"""Values in ``export``'s example input (batch times one sample): 1 GB in float32."""

MAX_SEED = 2**63 - 2
"""The largest ``--seed``: torch takes 64-bit seeds, and the check input uses ``seed + 1``."""


def check_values(shape: Sequence[int], params: int, path: SpecPath, what: str) -> None:
    """Refuse a tensor of ``shape`` or ``params`` parameters past ``MAX_VALUES`` (one sample)."""
    if prod(shape) > MAX_VALUES:
        raise LimitError(Problem(too_many(what, shape), path))
    if params > MAX_VALUES:
        raise LimitError(Problem(
            f"this layer would have {count_text(params)} parameters; the limit is 2^48 = "
            f"{MAX_VALUES:,} in any tensor: check its sizes", path))


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


def too_many(what: str, shape: Sequence[int]) -> str:
    return (f"{what} {list(shape)} holds {count_text(prod(shape))} values for one sample; the "
            f"limit is 2^48 = {MAX_VALUES:,} in any tensor: check the sizes that lead here")


def count_text(value: int) -> str:
    return f"{value:,}" if value < 10**18 else f"{value:.3g}"


def bytes_text(count: int) -> str:
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count:,} bytes"
