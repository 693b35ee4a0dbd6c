"""The ``netspec`` command line: ``main`` parses and runs one command (``netspec.cli.commands``)."""

from netspec.cli.commands import main

__all__ = ["main"]
