"""From a built model's tensor key (``layer2.0.shortcut.0.weight``) back to its spec line.

``build`` turns each leaf row of the analysis into one leaf module, in order (composites build
containers; ``netspec.confirm`` checks exactly this pairing against torchinfo), apart from
parameter-free ``nn.Identity`` placeholders that have no row. So a key's module is a leaf
module, paired with its row; or a container holding tensors of its own, located at the
innermost row that holds all of its leaves.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from torch import nn

from netspec.analysis.analysis import analyze
from netspec.core.errors import Problem
from netspec.layers.base import LayerReport
from netspec.reading.spec import Spec

PLACEHOLDER = "Identity"

_BUILT_FROM: WeakKeyDictionary[nn.Module, Spec] = WeakKeyDictionary()
"""The spec each model returned by ``build`` was built from, while the model lives."""


def remember(model: nn.Module, spec: Spec) -> None:
    """Note that ``build`` built ``model`` from ``spec`` (so errors can name spec lines)."""
    _BUILT_FROM[model] = spec


def built_from(model: nn.Module) -> Spec | None:
    """The spec ``netspec.build`` built ``model`` from, or None."""
    return _BUILT_FROM.get(model)


class Locator:
    """Problems about a model's tensors, located at the spec line of the layer they belong to."""

    def __init__(self, spec: Spec | None, model: nn.Module) -> None:
        self.spec = spec
        self.rows: list[LayerReport] = []
        self.row_of: dict[str, int] = {}  # leaf module name -> index in rows
        self.leaves: list[str] = []
        if spec is None:
            return
        try:
            self.rows = list(analyze(spec).layers)
        except Exception:  # an unlocated problem beats none
            return
        self.leaves = [name for name, module in model.named_modules()
                       if name and not any(True for _ in module.children())]
        modules = dict(model.named_modules())
        leaf_rows = [i for i, row in enumerate(self.rows)
                     if i + 1 == len(self.rows) or self.rows[i + 1].depth <= row.depth]
        position = 0
        for i in leaf_rows:  # the pairing netspec.confirm checks, Identity placeholders skipped
            while position < len(self.leaves) and _placeholder(
                    modules[self.leaves[position]], self.rows[i].kind):
                position += 1
            if position == len(self.leaves):
                break
            self.row_of[self.leaves[position]] = i
            position += 1

    def problem(self, key: str | None, message: str, file: str) -> Problem:
        """``message`` at the spec line of the layer owning tensor ``key`` (else at ``file``)."""
        row = None if key is None or self.spec is None else self.row(key.rpartition(".")[0])
        if row is None or self.spec is None:
            return Problem(message, file=file)
        where = self.rows[row]
        named = "" if where.name == str(where.index) else f" {where.name!r}"
        return self.spec.source.problem(self.spec.source.path_of_row(where.path), (
            f"{message} (layer {where.index}, {where.kind}{named}; in {file})"))

    def row(self, module: str) -> int | None:
        """The row of ``module`` (a dotted module name): its own, or the innermost row holding
        all the leaves under it, or the top-level row of its first name."""
        if module in self.row_of:
            return self.row_of[module]
        under = [self.row_of[name] for name in self.leaves
                 if name.startswith(f"{module}.") and name in self.row_of]
        if under:
            return self._common_ancestor(under)
        top = module.split(".", 1)[0]
        return next((i for i, row in enumerate(self.rows) if row.depth == 0 and row.name == top),
                    None)

    def _common_ancestor(self, rows: list[int]) -> int:
        chains = [self._ancestors(i) for i in rows]
        common = [i for i in chains[0] if all(i in chain for chain in chains[1:])]
        return common[0] if common else rows[0]

    def _ancestors(self, index: int) -> list[int]:
        """``index`` and the rows that contain it, innermost first."""
        chain = [index]
        depth = self.rows[index].depth
        for i in range(index - 1, -1, -1):
            if self.rows[i].depth < depth:
                chain.append(i)
                depth = self.rows[i].depth
        return chain


def _placeholder(module: nn.Module, kind: str) -> bool:
    return (type(module).__name__ == PLACEHOLDER != kind
            and not any(True for _ in module.parameters()))
