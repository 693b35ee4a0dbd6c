"""``python -m netspec``: the same as the ``netspec`` console script."""

from netspec.cli.commands import main

raise SystemExit(main())
