"""netspec against the alternatives it replaces: every comparison of issue 5 in one command.

    python benchmarks/run.py                 # every comparison, 5 repetitions each
    python benchmarks/run.py --reps 9        # more repetitions on a noisy machine
    python benchmarks/run.py --only check    # comparisons whose name contains "check"

Method:

- Every measurement is a fresh child process of this one (``sys.executable``, run from the
  repository root with the repository on ``PYTHONPATH``), so imports and first-use costs count
  as a user sees them. Byte-code caching is left on for the children (an installed package is
  byte-compiled), and each command runs once unmeasured first to warm the caches.
- The two sides of a comparison alternate, repetition by repetition, so that a noisy neighbour
  slows both alike; the table shows medians.
- Wall time: ``time.perf_counter()`` around start and reaping of the child. Where a child times
  calls itself, it prints a JSON line of seconds as its last line, and those are reported:
  ``scaling.py`` times one analysis; ``build_time.py`` alternates the hand-written model,
  ``netspec.build(spec)`` and ``netspec.build(path)`` in one process (medians of 5 rounds),
  since a few per cent between two processes drown in a shared machine's drift.
- Peak RSS: ``ru_maxrss`` from ``os.wait4`` of that very child (no ``/usr/bin/time`` needed).
  Linux carries the spawning process's high-water mark into the child at ``exec``, so this
  runner imports only the standard library and stays far below every child; its own peak is
  printed under the table as the floor below which a number would mean nothing.
- CPU seconds (user + system) of each child are shown too: on a shared machine they vary less
  than wall time.

Exit status 0; with ``--strict``, 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = sys.executable
MB = 1024  # ru_maxrss is in KiB on Linux


@dataclass
class Run:
    """Medians of one command over the repetitions."""

    wall: float
    cpu: float
    rss_mb: float
    inner: dict[str, float] = field(default_factory=dict)  # the child's own JSON numbers


@dataclass
class Row:
    comparison: str
    metric: str
    netspec: str
    other: str
    ratio: float | None
    target: str
    ok: bool | None


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return env


def run_once(argv: Sequence[str]) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MiB, stdout) of one fresh child."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(list(argv), cwd=ROOT, env=child_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited with {child.returncode}:\n"
                               f"{err.read()[-2000:]}")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / MB, out.read()


def measure(commands: dict[str, Sequence[str]], reps: int) -> dict[str, Run]:
    """Each command ``reps`` times (after one unmeasured warm-up), alternating the commands."""
    samples: dict[str, list[tuple[float, float, float, dict[str, float]]]] = {
        name: [] for name in commands
    }
    names = list(commands)
    for rep in range(reps + 1):
        for name in names if rep % 2 else names[::-1]:
            wall, cpu, rss, out = run_once(commands[name])
            if rep == 0:
                continue
            lines = out.strip().splitlines()
            inner = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
            samples[name].append((wall, cpu, rss, inner))
    runs = {}
    for name, values in samples.items():
        inner_keys = [k for k, v in values[0][3].items() if isinstance(v, int | float)]
        runs[name] = Run(
            wall=statistics.median(v[0] for v in values),
            cpu=statistics.median(v[1] for v in values),
            rss_mb=statistics.median(v[2] for v in values),
            inner={k: statistics.median(v[3][k] for v in values) for k in inner_keys},
        )
    return runs


def netspec_cli(*args: str) -> list[str]:
    return [PY, "-m", "netspec", *args]


def script(name: str, *args: str) -> list[str]:
    return [PY, os.path.join(HERE, name), *args]


def seconds(value: float) -> str:
    return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"


def mib(value: float) -> str:
    return f"{value:,.0f} MB"


def at_most(ratio: float, limit: float) -> bool:
    return ratio <= limit


# --- the comparisons ---


def summary_vgg16(reps: int) -> list[Row]:
    runs = measure({
        "netspec": netspec_cli("summary", "specs/vgg16.yaml"),
        "torchinfo": script("alt_torchinfo.py", "vgg16", "3x224x224"),
        "torchinfo-meta": script("alt_torchinfo.py", "vgg16", "3x224x224", "--device", "meta"),
    }, reps)
    ours, theirs, meta = runs["netspec"], runs["torchinfo"], runs["torchinfo-meta"]
    name = "1. summary vgg16 vs hand-built + torchinfo (CPU)"
    wall, rss = ours.wall / theirs.wall, ours.rss_mb / theirs.rss_mb
    return [
        Row(name, "wall", seconds(ours.wall), seconds(theirs.wall), wall, "<= 0.70x",
            at_most(wall, 0.70)),
        Row(name, "peak RSS", mib(ours.rss_mb), mib(theirs.rss_mb), rss, "<= 0.50x",
            at_most(rss, 0.50)),
        Row(name, "CPU", seconds(ours.cpu), seconds(theirs.cpu), ours.cpu / theirs.cpu, "", None),
        Row("1. summary vgg16 vs hand-built + torchinfo (meta)", "wall", seconds(ours.wall),
            seconds(meta.wall), ours.wall / meta.wall, "(reported)", None),
        Row("1. summary vgg16 vs hand-built + torchinfo (meta)", "peak RSS", mib(ours.rss_mb),
            mib(meta.rss_mb), ours.rss_mb / meta.rss_mb, "(reported)", None),
    ]


def summary_large(reps: int, spec: str, model: str, shape: str, label: str) -> list[Row]:
    args = ["summary", spec] + (["--input", shape] if shape else [])
    runs = measure({
        "netspec": netspec_cli(*args),
        "floor": [PY, "-c", "import torch, torchinfo"],
        "torchinfo": script("alt_torchinfo.py", model, shape or "3x32x32"),
    }, reps)
    ours, floor, theirs = runs["netspec"], runs["floor"], runs["torchinfo"]
    name = f"2. summary {label}"
    rss = ours.rss_mb / floor.rss_mb
    return [
        Row(name, "peak RSS vs import torch, torchinfo", mib(ours.rss_mb), mib(floor.rss_mb),
            rss, "<= 1.30x", at_most(rss, 1.30)),
        Row(name, "wall vs import torch, torchinfo", seconds(ours.wall), seconds(floor.wall),
            ours.wall / floor.wall, "", None),
        Row(name, "peak RSS vs hand-built + torchinfo (CPU)", mib(ours.rss_mb),
            mib(theirs.rss_mb), ours.rss_mb / theirs.rss_mb, "(reported)", None),
        Row(name, "wall vs hand-built + torchinfo (CPU)", seconds(ours.wall),
            seconds(theirs.wall), ours.wall / theirs.wall, "(reported)", None),
    ]


def check_all(reps: int) -> list[Row]:
    specs = sorted(glob.glob("specs/*.yaml", root_dir=ROOT))
    runs = measure({
        "netspec": netspec_cli("check", *specs),
        "floor": [PY, "-c", "import pydantic, yaml"],
    }, reps)
    ours, floor = runs["netspec"], runs["floor"]
    name = f"3. check specs/*.yaml ({len(specs)} specs) vs import pydantic, yaml"
    wall = ours.wall / floor.wall
    imported = torch_imported(netspec_cli("check", *specs))
    return [
        Row(name, "wall", seconds(ours.wall), seconds(floor.wall), wall, "<= 2.00x",
            at_most(wall, 2.0)),
        Row(name, "CPU", seconds(ours.cpu), seconds(floor.cpu), ours.cpu / floor.cpu, "", None),
        Row(name, "peak RSS", mib(ours.rss_mb), mib(floor.rss_mb), ours.rss_mb / floor.rss_mb,
            "", None),
        Row(name, "torch imported", "yes" if imported else "no", "", None, "no", not imported),
    ]


FIVE = ("lenet5", "alexnet", "vgg16", "resnet50", "mobilenet_v2")


def check_five(reps: int) -> list[Row]:
    """Issue 11's start-up target: the kinds load when a spec names them, so checking five
    classic specs costs at most twice ``import pydantic, yaml``."""
    specs = [f"specs/{name}.yaml" for name in FIVE]
    runs = measure({
        "netspec": netspec_cli("check", *specs),
        "floor": [PY, "-c", "import pydantic, yaml"],
    }, reps)
    ours, floor = runs["netspec"], runs["floor"]
    name = "3b. check " + ",".join(FIVE) + " vs import pydantic, yaml"
    wall = ours.wall / floor.wall
    return [
        Row(name, "wall", seconds(ours.wall), seconds(floor.wall), wall, "<= 2.00x",
            at_most(wall, 2.0)),
        Row(name, "CPU", seconds(ours.cpu), seconds(floor.cpu), ours.cpu / floor.cpu, "", None),
    ]


def torch_imported(argv: Sequence[str]) -> bool:
    """Whether the command imports torch: ``-X importtime`` lists every module it imports."""
    child = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=ROOT, env=child_env(),
                           capture_output=True, text=True, check=False)
    modules = [line.rsplit("|", 1)[-1].strip() for line in child.stderr.splitlines()
               if line.startswith("import time:")]
    return any(module == "torch" or module.startswith("torch.") for module in modules)


def build(reps: int) -> list[Row]:
    rows = []
    for model in ("vgg16", "resnet50"):
        inner = measure({"both": script("build_time.py", model)}, reps)["both"].inner
        theirs = inner["hand"]
        name = f"4. build {model} vs hand-written construction"
        ours = inner["netspec"]
        rows.append(Row(name, "netspec.build(spec)", seconds(ours), seconds(theirs),
                        ours / theirs, "<= 1.05x", at_most(ours / theirs, 1.05)))
        ours = inner["netspec_path"]
        rows.append(Row(name, "netspec.build(path): + read, validate", seconds(ours),
                        seconds(theirs), ours / theirs, "(reported)", None))
    return rows


def scaling(reps: int) -> list[Row]:
    rows = []
    for kind, label in (("chain", "chain"), ("composite", "composite-heavy")):
        sizes = (10, 100, 1000, 10000)
        runs = measure({str(n): script("scaling.py", kind, str(n)) for n in sizes}, reps)
        per_row = {n: runs[str(n)].inner["seconds"] / runs[str(n)].inner["rows"] for n in sizes}
        for n in sizes:
            inner = runs[str(n)].inner
            rows.append(Row(
                f"5. analysis of a {label} spec", f"{int(inner['rows']):,} rows",
                f"{seconds(inner['seconds'])} ({per_row[n] * 1e6:.0f} us/row)",
                f"load {seconds(inner['load_seconds'])}", None,
                "< 1 s" if n == sizes[-1] else "",
                inner["seconds"] < 1.0 if n == sizes[-1] else None,
            ))
        growth = per_row[sizes[-1]] / per_row[sizes[1]]
        rows.append(Row(f"5. analysis of a {label} spec", "linear: us/row 10k vs 100",
                        f"{per_row[sizes[-1]] * 1e6:.0f} us", f"{per_row[sizes[1]] * 1e6:.0f} us",
                        growth, "<= 1.50x", at_most(growth, 1.5)))
    return rows


COMPARISONS: dict[str, Callable[[int], list[Row]]] = {
    "summary-vgg16": summary_vgg16,
    "summary-resnet50-1024": lambda reps: summary_large(
        reps, "specs/resnet50.yaml", "resnet50", "3x1024x1024", "resnet50 at 3x1024x1024"),
    "summary-billion": lambda reps: summary_large(
        reps, "benchmarks/specs/billion.yaml", "billion", "", "1,045,369,000-parameter MLP"),
    "check": check_all,
    "check-five": check_five,
    "build": build,
    "scaling": scaling,
}


# --- output ---


def table(rows: list[Row]) -> str:
    header = ("comparison", "metric", "netspec", "alternative", "ratio", "target", "result")
    cells = [header] + [(
        row.comparison, row.metric, row.netspec, row.other,
        "" if row.ratio is None else f"{row.ratio:.2f}x", row.target,
        "" if row.ok is None else ("pass" if row.ok else "FAIL"),
    ) for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
             for line in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def versions() -> str:
    """Python, torch, torchinfo and pydantic versions, read in a child (torch stays out of here)."""
    code = ("import platform, torch, torchinfo, pydantic; "
            "print(f'Python {platform.python_version()}, torch {torch.__version__}, "
            "torchinfo {torchinfo.__version__}, pydantic {pydantic.VERSION}')")
    return subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True,
                          env=child_env()).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="measured repetitions (default 5)")
    parser.add_argument("--only", default="", help="run comparisons whose name contains this")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    chosen = {name: run for name, run in COMPARISONS.items() if args.only in name}
    print(f"{platform.machine()}, {os.cpu_count()} CPUs; {versions()}")
    print(f"{args.reps} repetitions each (medians); comparisons: {', '.join(chosen)}\n",
          flush=True)
    rows: list[Row] = []
    for name, comparison in chosen.items():
        started = time.perf_counter()
        new = comparison(args.reps)
        rows += new
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MB
    print(f"\nPeak RSS of this runner (the floor of every RSS above): {floor:.0f} MB")
    missed = [row for row in rows if row.ok is False]
    print("All targets met." if not missed else f"Targets missed: {len(missed)}")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
