"""``python -m netspec``: the same as the ``netspec`` console script."""

from netspec.cli import console

raise SystemExit(console())
