"""``python -m netspec``: the same as the ``netspec`` console script."""

from .cli import main

raise SystemExit(main())
