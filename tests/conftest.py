"""Hypothesis runs the same examples on every run unless a long campaign is asked for.

Default (CI): the ``netspec-ci`` profile, derandomised (each property draws from a seed fixed by
its own name, so a run that passes passes again and a failure reproduces) and without an
example database. ``NETSPEC_FUZZ=long`` loads ``netspec-long``: random seeds, and every property
runs ``LONG_FACTOR`` times its examples (at least its own count, at most ``LONG_CAP``; the
fuzz campaigns of ``tests/test_fuzz.py`` set their own counts). ``NETSPEC_MUTATION=1``
(``benchmarks/mutation.py``) is the CI profile without shrinking::

    NETSPEC_FUZZ=long python -m pytest tests/layers -q
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import Phase, settings

LONG = os.environ.get("NETSPEC_FUZZ") == "long"
LONG_FACTOR = 20
LONG_CAP = 2_000

MUTATION = os.environ.get("NETSPEC_MUTATION") == "1"  # set by benchmarks/mutation.py

settings.register_profile("netspec-ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("netspec-long", derandomize=False, print_blob=True)
# A mutation run needs only to know that a test fails: shrinking the example would take longer
# than the test (and time out) for nothing.
settings.register_profile("netspec-mutation", derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile("netspec-mutation" if MUTATION else "netspec-long" if LONG else "netspec-ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``NETSPEC_FUZZ=long``, more examples for every property (each test function once,
    though parametrised items share it)."""
    if not LONG:
        return
    done: set[int] = set()
    for item in items:
        test: Any = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if not getattr(test, "is_hypothesis_test", False) or current is None or id(test) in done:
            continue
        done.add(id(test))
        count = max(current.max_examples, min(current.max_examples * LONG_FACTOR, LONG_CAP))
        test._hypothesis_internal_use_settings = settings(
            current, max_examples=count, derandomize=False
        )
