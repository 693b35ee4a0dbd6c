"""Where a netspec command spends its time: cProfile of the whole command, imports included.

    python benchmarks/profile_cli.py summary specs/vgg16.yaml       # top functions, cumulative
    python benchmarks/profile_cli.py check specs/*.yaml
    python benchmarks/profile_cli.py --imports summary specs/vgg16.yaml   # slowest imports

``--imports`` runs the command in a child with ``python -X importtime`` and lists the modules
whose import took longest, themselves and with what they imported.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import runpy
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout, suppress

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def profile(command: list[str], top: int) -> str:
    sys.path.insert(0, ROOT)
    sys.argv = ["netspec", *command]
    profiler = cProfile.Profile()
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), suppress(SystemExit):
        profiler.runcall(runpy.run_module, "netspec", run_name="__main__", alter_sys=True)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def imports(command: list[str], top: int) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT)
    child = subprocess.run([sys.executable, "-X", "importtime", "-m", "netspec", *command],
                           cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    rows = []
    for line in child.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, total, name = line.removeprefix("import time:").split("|")
            rows.append((int(total), int(own), name.rstrip()))
    rows.sort(reverse=True)
    lines = [f"{'cumulative':>10}  {'self':>8}  module (ms)"]
    lines += [f"{total / 1000:10.1f}  {own / 1000:8.1f}  {name}" for total, own, name in rows[:top]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imports", action="store_true", help="slowest imports instead")
    parser.add_argument("--top", type=int, default=30, help="lines to show (default 30)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="netspec command and args")
    args = parser.parse_args()
    print((imports if args.imports else profile)(args.command, args.top))


if __name__ == "__main__":
    main()
