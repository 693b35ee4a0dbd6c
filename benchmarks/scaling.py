"""Analysis time against network size, in a fresh process.

    python benchmarks/scaling.py chain 10000        # 10,000 layers: Conv2d, ReLU, Conv2d, ...
    python benchmarks/scaling.py composite 10000    # about 10,000 rows of nested composites

Prints one JSON line: the number of analysis rows, the seconds to load the spec from YAML text
(parse, expand, validate, analyse once) and the seconds of one ``netspec.analyze`` of it.

The composite-heavy spec is a chain of residual blocks, each with a batch-normalised body, a
``Parallel`` pair of branches added together, an identity shortcut, a ``post`` ReLU, grouped in
``Sequential`` stages of ten blocks: every row sits two to four levels deep.
"""

from __future__ import annotations

import json
import os
import sys
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import netspec

CONV = {"Conv2d": {"out_channels": 8, "kernel_size": 3, "padding": 1}}
BLOCK = {"Residual": {
    "body": [
        CONV, "BatchNorm2d", "ReLU",
        {"Parallel": {"merge": "add", "branches": [[CONV], [CONV, "ReLU"]]}},
    ],
    "shortcut": "identity",
    "post": ["ReLU"],
}}
ROWS_PER_BLOCK = 9  # Residual, 3 body rows, Parallel, 3 branch rows, post ReLU (no identity row)
STAGE = 10  # blocks per Sequential stage, which adds one row


def chain(layers: int) -> dict[str, object]:
    return {"input": [8, 16, 16], "layers": [CONV if i % 2 == 0 else "ReLU"
                                            for i in range(layers)]}


def composite(rows: int) -> dict[str, object]:
    blocks = max(1, round(rows / (ROWS_PER_BLOCK + 1 / STAGE)))
    stages = [{"Sequential": {"layers": [BLOCK] * min(STAGE, blocks - start)}}
              for start in range(0, blocks, STAGE)]
    return {"input": [8, 16, 16], "layers": stages}


def main() -> None:
    kind, size = sys.argv[1], int(sys.argv[2])
    text = yaml.safe_dump(chain(size) if kind == "chain" else composite(size),
                          default_flow_style=None, sort_keys=False)
    start = time.perf_counter()
    spec = netspec.load(text)
    loaded = time.perf_counter() - start
    fresh = spec.with_input(spec.input)  # an equal spec that was never analysed
    start = time.perf_counter()
    report = netspec.analyze(fresh)
    analysed = time.perf_counter() - start
    print(json.dumps({"rows": len(report.layers), "load_seconds": loaded,
                      "seconds": analysed}))


if __name__ == "__main__":
    main()
