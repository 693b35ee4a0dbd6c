"""Where the start-up of ``netspec check`` goes, phase by phase, against issue 11's floor.

    python benchmarks/check_phases.py                 # the five classic specs, 9 processes
    python benchmarks/check_phases.py --reps 15 specs/vgg16.yaml

Each repetition runs two fresh processes in turn: ``python -c "import pydantic, yaml"`` (the
floor) and a child that runs ``netspec check`` in phases, reading its own CPU clock
(``time.process_time``) between them: importing pydantic and PyYAML, importing netspec's command
line (pydantic's model machinery, then netspec's modules), then, inside the check, creating the
named kinds' classes (``registry._loaded``), building their schemas
(``registry._entry_adapter``) and everything else (reading YAML, templates, validation,
analysis, lints, output). The process's whole CPU time comes from ``os.wait4``; what the phases
leave over is the interpreter's start and exit. The table shows medians, in milliseconds and as
multiples of the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIVE = [f"specs/{name}.yaml" for name in ("lenet5", "alexnet", "vgg16", "resnet50",
                                           "mobilenet_v2")]

CHILD = """
import contextlib, io, json, sys, time
clock = time.process_time
phases = {}
start = clock()
import pydantic, yaml
phases["import pydantic, yaml"] = clock() - start
start = clock()
import pydantic.functional_validators, pydantic.main, pydantic.type_adapter, pydantic.types
phases["import pydantic's model machinery (BaseModel, types)"] = clock() - start
start = clock()
import netspec.cli
phases["import netspec's modules"] = clock() - start
from netspec.layers import registry
inside = {"classes": 0.0, "schemas": 0.0}

def timed(function, key):
    def wrapper(name):
        begin = clock()
        try:
            return function(name)
        finally:
            inside[key] += clock() - begin
    return wrapper

registry._loaded = timed(registry._loaded, "classes")
registry._entry_adapter = timed(registry._entry_adapter, "schemas")
start = clock()
specs, sys.argv = sys.argv[1:], ["netspec", "check", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()):
    status = netspec.cli.console()  # as the executable runs it
check = clock() - start
phases["the named kinds' classes"] = inside["classes"]
phases["their schemas"] = inside["schemas"]
phases["reading, validating, analysing, lints, output"] = (
    check - inside["classes"] - inside["schemas"])
print(json.dumps({"status": status, "phases": phases}))
"""


def run(argv: list[str]) -> tuple[float, str]:
    """CPU seconds of a fresh child (user + system) and its standard output."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    out = child.stdout.read() if child.stdout else ""
    _, _, usage = os.wait4(child.pid, 0)
    return usage.ru_utime + usage.ru_stime, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", default=FIVE)
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    floors: list[float] = []
    totals: list[float] = []
    phases: dict[str, list[float]] = {}
    for _ in range(args.reps):
        floors.append(run([sys.executable, "-c", "import pydantic, yaml"])[0])
        total, out = run([sys.executable, "-c", CHILD, *args.specs])
        result = json.loads(out.strip().splitlines()[-1])
        totals.append(total)
        for name, seconds in result["phases"].items():
            phases.setdefault(name, []).append(seconds)
        rest = total - sum(result["phases"].values())
        phases.setdefault("interpreter start and exit", []).append(rest)
    floor = statistics.median(floors)
    print(f"CPU, medians of {args.reps} processes; floor: python -c \"import pydantic, yaml\" "
          f"{floor * 1000:.0f} ms\n")
    print(f"{'phase':<54} {'ms':>6} {'x floor':>8}")
    for name, values in phases.items():
        value = statistics.median(values)
        print(f"{name:<54} {value * 1000:>6.1f} {value / floor:>8.2f}")
    total = statistics.median(totals)
    print(f"{'netspec check, whole process':<54} {total * 1000:>6.1f} {total / floor:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
