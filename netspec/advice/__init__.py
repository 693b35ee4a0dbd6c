"""Advice on a spec: lints, the arithmetic of each layer (``--explain``), ``expect:`` checks, the
difference between two specs, and what ``netspec check`` reports."""
