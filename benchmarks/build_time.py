"""Time model construction: ``netspec.build`` against the same model written by hand.

    python benchmarks/build_time.py vgg16       # or resnet50

In one process (torch and netspec imported), after one unmeasured construction of each, the
three ways alternate for ``ROUNDS`` rounds: the hand-written code (``models.py``),
``netspec.build(spec)`` on a loaded spec (as the issue writes it), and ``netspec.build(path)``,
which also reads, validates and analyses the file. Prints one JSON line with the median
seconds of each. Alternating in one process cancels the drift of a shared machine, which
otherwise swamps a difference of a few per cent between two processes.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, ROOT]

import models  # noqa: E402

import netspec  # noqa: E402

HAND = {"vgg16": models.vgg16, "resnet50": models.ResNet50}
ROUNDS = 5


def main() -> None:
    model_name = sys.argv[1]
    path = os.path.join(ROOT, "specs", f"{model_name}.yaml")
    spec = netspec.load(path)
    ways: dict[str, Callable[[], object]] = {
        "hand": HAND[model_name],
        "netspec": lambda: netspec.build(spec),
        "netspec_path": lambda: netspec.build(path),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for round_ in range(ROUNDS + 1):
        for name, construct in ways.items():
            start = time.perf_counter()
            construct()
            if round_:
                times[name].append(time.perf_counter() - start)
    print(json.dumps({name: statistics.median(values) for name, values in times.items()}))


if __name__ == "__main__":
    main()
