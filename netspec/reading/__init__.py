"""Reading a spec: YAML with positions, ``params:`` and ``blocks:`` expansion, expressions,
schema validation into layer kinds with located errors, and the ``Spec`` model."""
