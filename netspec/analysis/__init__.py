"""Analysing a spec without torch: the walk's rows and totals, the limits on a whole spec, and
the input sizes a network accepts."""
