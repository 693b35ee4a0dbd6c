"""The ``netspec`` command line: ``main`` parses and runs one command (``netspec.cli.commands``);
``console`` is the executable (the console script and ``python -m netspec``)."""

from __future__ import annotations

import gc
import sys

from netspec.cli.commands import main

__all__ = ["console", "main"]


def console() -> int:
    """``main``, then a cheap exit: the exit status of the command.

    At exit, Python collects garbage over every object still alive, several times over: after a
    check, pydantic's schemas and the kinds' classes make that about a fifth of the command's
    CPU time (``benchmarks/check_phases.py``, "interpreter start and exit"). Frozen
    (``gc.freeze``), they are left to the operating system with the rest of the process's
    memory. Output is flushed first, and the files netspec writes are closed by their own
    ``with`` blocks, so nothing waits on a collection. ``main`` itself freezes nothing: a
    program or a test calling it keeps its collector as it was.
    """
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
    return status
