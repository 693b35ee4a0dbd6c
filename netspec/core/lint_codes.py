"""The lint codes: stable identifiers, each explained in ``docs/lints.md``. No imports, so that
the layer schema (``lint_ignore:``) and the spec can validate codes without a cycle.

A code never changes meaning and is never reused; a retired rule keeps its number.
"""

from __future__ import annotations

LINT_CODES: dict[str, str] = {
    "NS101": "even kernel padded to keep the size",
    "NS102": "bias directly before a normalisation that cancels it",
    "NS103": "input rows or columns dropped by floor division",
    "NS104": "dropout directly before batch normalisation",
    "NS105": "activation directly before a normalisation",
    "NS106": "spatial size collapses to 1 long before the head",
    "NS107": "final receptive field smaller than the input",
    "NS108": "final receptive field far larger than the input",
    "NS109": "one layer holds most of the parameters",
    "NS110": "stochastic depth outside a residual branch",
}
"""Code -> one-line title. The explanation of each is in docs/lints.md."""


def check_codes(codes: tuple[str, ...]) -> tuple[str, ...]:
    """Field validator body for ``lint_ignore``: every code must exist (with a suggestion)."""
    import difflib

    for code in codes:
        if code not in LINT_CODES:
            close = difflib.get_close_matches(code.upper(), list(LINT_CODES), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ValueError(
                f"unknown lint code {code!r}{hint} (codes: {', '.join(LINT_CODES)}; "
                "docs/lints.md explains each)"
            )
    return codes
