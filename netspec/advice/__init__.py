"""Advice on an analysed spec: lints (warnings and their codes), ``expect:`` checks, and what
``netspec check`` reports for a spec."""
