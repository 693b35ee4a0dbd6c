"""The version of netspec, in one place (the package, the CLI and the JSON summary read it)."""

__version__ = "0.1.0"
