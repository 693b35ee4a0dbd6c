"""The vocabulary every stage shares: errors, shapes and receptive-field arithmetic, sliding
windows, lint codes, the numeric limits and the version. Imports nothing else of netspec."""
