"""Mutation testing of the formula and kind modules: the score, and every surviving mutant.

    pip install -e '.[mutation]'                  # mutmut; not needed by the test suite
    python benchmarks/mutation.py                 # every module below (long: an hour or more)
    python benchmarks/mutation.py netspec/core/shapes.py netspec/layers/upsample.py
    python benchmarks/mutation.py --report-only   # the last run's results again
    python benchmarks/mutation.py --rerun         # after new tests: rerun the last survivors

Method. The tracked files of the repository are copied to a work directory (``--workdir``,
default ``/tmp/netspec-mutation``), whose ``pyproject.toml`` gets a ``[tool.mutmut]`` section:
mutate only the chosen modules, and per mutant run the fast tests of ``TESTS`` that cover the
mutated function (mutmut maps tests to functions on a first, unmutated run), stopping at the
first failure. Hypothesis runs derandomised and without shrinking (``NETSPEC_MUTATION=1``,
``tests/conftest.py``). Workers fork from mutmut's fork server (torch's thread pool does not
survive a fork: forked from a process that ran the tests, workers hang) and use one thread each.

Score: detected / (all mutants - equivalent ones), where detected means killed by a test or
timed out (a mutant that makes a test loop) and a mutant with no covering test counts as a
survivor. Equivalent mutants, which cannot change any result, are left out of the score and
printed with their reason: those that only weaken ``zip(..., strict=True)``
(``equivalent_by_rule``) and those listed in ``benchmarks/mutation_equivalent.txt``, one per
line, ``name  reason``. Every other survivor is printed with its diff. Exit status 0 when the
score is at least ``--target`` (default 90%), else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT_FILE = ROOT / "benchmarks" / "mutation_equivalent.txt"
LAYERS = "tests/layers/"
SHAPE_TESTS = [
    "tests/core/test_shapes.py", f"{LAYERS}test_conv.py", f"{LAYERS}test_pool.py",
    f"{LAYERS}test_upsample.py",
    f"{LAYERS}test_formula_arguments.py", f"{LAYERS}test_receptive_field_resampling.py",
    f"{LAYERS}test_composite_rf.py", f"{LAYERS}test_receptive_field.py",
    f"{LAYERS}test_layout_fields.py", f"{LAYERS}test_reshape.py",  # column_start
]
SCHEMA_TESTS = ["tests/views/test_json_schema_bounds.py", "tests/views/test_json_schema.py"]
# composites asked on their own, merges, shortcuts and their messages, besides torch's verdicts
COMPOSITE_TESTS = [f"{LAYERS}test_composite_api.py", f"{LAYERS}test_composite_rows.py",
                   f"{LAYERS}test_branches_merge.py", f"{LAYERS}test_merge_fields.py",
                   f"{LAYERS}test_residual_shortcuts.py", f"{LAYERS}test_composite_rf.py",
                   f"{LAYERS}test_modern_blocks.py", f"{LAYERS}test_composition_properties.py",
                   *SCHEMA_TESTS]
# the kinds of issues 12 and 13: their own tests, schema bounds, torch's modules on an empty
# batch and the round trip through torch's arguments
MODERN_TESTS = [f"{LAYERS}test_modern_blocks.py", "tests/torch_side/test_empty_batch.py",
                "tests/torch_side/test_roundtrip_modern.py", "tests/views/test_modern_views.py",
                "tests/views/test_json_schema_bounds.py"]
TOKEN_TESTS = [f"{LAYERS}test_tokens.py", f"{LAYERS}test_token_messages.py",
               f"{LAYERS}test_token_explain.py", f"{LAYERS}test_token_fields.py", *MODERN_TESTS]
WINDOW_TESTS = [f"{LAYERS}test_windows.py", f"{LAYERS}test_windows_more.py",
                f"{LAYERS}test_partition.py", f"{LAYERS}test_partition_more.py",
                f"{LAYERS}test_receptive_field.py", f"{LAYERS}test_window_messages.py",
                f"{LAYERS}test_window_explain.py", f"{LAYERS}test_partition_explain.py",
                *MODERN_TESTS]
# the norms' explain lines, bias cancelling (the lints) and messages, besides torch's verdicts
NORM_TESTS = [f"{LAYERS}test_norm.py", f"{LAYERS}test_norm_counts.py",
              f"{LAYERS}test_norm_messages.py", "tests/views/test_explain.py",
              "tests/advice/test_lints.py", *SCHEMA_TESTS]
TESTS: dict[str, list[str]] = {
    "netspec/core/shapes.py": SHAPE_TESTS,
    "netspec/core/window.py": [*SHAPE_TESTS, "tests/views/test_explain.py",
                               "tests/core/test_window_explain.py"],
    "netspec/layers/conv.py": [f"{LAYERS}test_conv.py", f"{LAYERS}test_formula_arguments.py",
                               f"{LAYERS}test_receptive_field_resampling.py",
                               f"{LAYERS}test_conv_messages.py", f"{LAYERS}test_conv_explain.py",
                               *SCHEMA_TESTS],
    "netspec/layers/pool.py": [f"{LAYERS}test_pool.py", f"{LAYERS}test_formula_arguments.py",
                               *SCHEMA_TESTS],
    "netspec/layers/pool_adaptive.py": [f"{LAYERS}test_pool.py",
                                        f"{LAYERS}test_receptive_field.py",
                                        f"{LAYERS}test_adaptive_pool_explain.py",
                                        "tests/views/test_explain.py", *SCHEMA_TESTS],
    "netspec/layers/norm.py": [*NORM_TESTS],
    "netspec/layers/norm_batch.py": [*NORM_TESTS],
    "netspec/layers/composite.py": [*COMPOSITE_TESTS],
    "netspec/layers/merge.py": [*COMPOSITE_TESTS, f"{LAYERS}test_gating.py",
                                "tests/views/test_unknown_field.py"],
    "netspec/layers/branches.py": [*COMPOSITE_TESTS],
    "netspec/layers/gating.py": [f"{LAYERS}test_gating.py", f"{LAYERS}test_gating_explain.py",
                                 *MODERN_TESTS],
    "netspec/layers/layout.py": [f"{LAYERS}test_layout.py", f"{LAYERS}test_layout_messages.py",
                                 f"{LAYERS}test_layout_fields.py", *MODERN_TESTS],
    "netspec/layers/split.py": [f"{LAYERS}test_layout.py", f"{LAYERS}test_layout_messages.py",
                                f"{LAYERS}test_layout_fields.py", f"{LAYERS}test_merge_fields.py",
                                f"{LAYERS}test_gating_explain.py", *MODERN_TESTS],
    "netspec/layers/scaling.py": [f"{LAYERS}test_scaling_explain.py", *MODERN_TESTS],
    "netspec/layers/tokens.py": [*TOKEN_TESTS],
    "netspec/layers/attention.py": [*TOKEN_TESTS, "tests/test_published_macs.py"],
    "netspec/layers/windows.py": [*WINDOW_TESTS],
    "netspec/layers/partition.py": [*WINDOW_TESTS],
    "netspec/layers/reshape.py": [f"{LAYERS}test_reshape.py", f"{LAYERS}test_reshape_messages.py",
                                  f"{LAYERS}test_layout_fields.py",
                                  f"{LAYERS}test_token_fields.py",
                                  "tests/views/test_unknown_field.py",
                                  "tests/views/test_explain.py", *SCHEMA_TESTS],
    "netspec/layers/upsample.py": [f"{LAYERS}test_upsample.py",
                                   f"{LAYERS}test_receptive_field_resampling.py",
                                   "tests/views/test_explain.py", *SCHEMA_TESTS],
}
COPIED_DIRS = ["specs", "schema", "examples", "docs"]
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}


def tracked_files(under: str = "") -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z", *([under] if under else [])], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode()
    return [name for name in listing.split("\0") if name and (ROOT / name).is_file()]


def copy_files(names: list[str], target: Path) -> None:
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)


def prepare(workdir: Path, modules: list[str]) -> None:
    """A fresh copy of the tracked files, with mutmut's configuration for ``modules``."""
    if workdir.exists():
        shutil.rmtree(workdir)
    copy_files(tracked_files(), workdir)
    configure(workdir, modules)


def configure(workdir: Path, modules: list[str]) -> None:
    """The repository's ``pyproject.toml`` and a ``[tool.mutmut]`` section for ``modules``."""
    shutil.copy2(ROOT / "pyproject.toml", workdir / "pyproject.toml")
    tests = sorted({test for module in modules for test in TESTS[module]})
    section = "\n".join([
        "", "[tool.mutmut]",
        'source_paths = ["netspec"]',
        f"only_mutate = {modules!r}".replace("'", '"'),
        f"pytest_add_cli_args_test_selection = {tests!r}".replace("'", '"'),
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"]',
        # torch is not fork-safe once its thread pool runs: fork workers from a clean server
        'process_isolation = "forkserver"',
        f"also_copy = {COPIED_DIRS!r}".replace("'", '"'),
        "",
    ])
    with (workdir / "pyproject.toml").open("a", encoding="utf-8") as config:
        config.write(section)


def mutmut(workdir: Path, *args: str, check: bool = True) -> str:
    # one thread per test process: the workers are the parallelism
    env = {**os.environ, "NETSPEC_MUTATION": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # mutmut puts its mutated copy first on the path itself
    run = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=workdir, env=env,
                         capture_output=True, text=True, check=False)
    if check and run.returncode != 0:
        sys.exit(f"mutmut {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return run.stdout


def equivalent_mutants() -> dict[str, str]:
    """``name  reason`` lines of ``mutation_equivalent.txt`` (``#`` starts a comment)."""
    found: dict[str, str] = {}
    if EQUIVALENT_FILE.exists():
        for line in EQUIVALENT_FILE.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, reason = line.partition(" ")
                found[name] = reason.strip()
    return found


def changed_lines(diff: str) -> tuple[list[str], list[str]]:
    lines = diff.splitlines()
    removed = [line[1:].strip() for line in lines if line.startswith("-") and
               not line.startswith("---")]
    added = [line[1:].strip() for line in lines if line.startswith("+") and
             not line.startswith("+++")]
    return removed, added


_STRICT = re.compile(r",?\s*strict=(True|False|None)\s*|,\s*(?=\))")


def equivalent_by_rule(diff: str) -> str | None:
    """Why a mutant cannot change any result, for mutants of a kind every module has.

    ``zip(..., strict=True)`` made ``strict=False``, ``None`` or dropped: ``strict`` only
    raises when the lengths differ, and netspec zips per-axis values whose counts it has
    already checked (one per spatial axis), so no input reaches the difference.
    """
    removed, added = (" ".join(lines) for lines in changed_lines(diff))
    weakened = "strict=True" in removed and _STRICT.sub("", removed) == _STRICT.sub("", added)
    return "zip strict=True weakened: per-axis lengths already checked" if weakened else None


def module_of(mutant: str) -> str:
    """``netspec.core.shapes.x_f__mutmut_3`` -> ``netspec/core/shapes.py``."""
    dotted = mutant.split(".x")[0] if ".x" in mutant else mutant.rsplit(".", 1)[0]
    return dotted.replace(".", "/") + ".py"


def results(workdir: Path) -> dict[str, str]:
    """Every mutant's status from the last run: killed, survived, no tests, timeout..."""
    statuses: dict[str, str] = {}
    for line in mutmut(workdir, "results", "--all", "true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            statuses[name] = status
    return statuses


def rerun(workdir: Path, modules: list[str], max_children: int) -> None:
    """The tests as they are now, and the survivors of the last run (and its unrun mutants)
    run again; everything else keeps its result.

    mutmut forgets every result when the tests change, so the detected mutants of the runs
    before are kept in ``detected.json`` (tests are only ever added between runs: a mutant a
    test killed stays killed) and ``report`` counts them.
    """
    before = results(workdir)
    detected = merged_detected(workdir, before)
    (workdir / "detected.json").write_text(json.dumps(detected, indent=1), encoding="utf-8")
    undecided = [name for name, status in before.items()
                 if status not in DETECTED and name not in detected
                 and module_of(name) in modules]
    for copy in (workdir, workdir / "mutants"):
        if (copy / "tests").exists():
            shutil.rmtree(copy / "tests")
        copy_files(tracked_files("tests"), copy)
    configure(workdir, modules)
    if undecided:
        mutmut(workdir, "run", "--max-children", str(max_children), *undecided, check=False)


def merged_detected(workdir: Path, statuses: dict[str, str]) -> dict[str, str]:
    """Mutants detected now or in a run before ``--rerun``: name -> status."""
    kept = workdir / "detected.json"
    detected: dict[str, str] = json.loads(kept.read_text(encoding="utf-8")) if kept.exists() else {}
    detected.update({name: status for name, status in statuses.items() if status in DETECTED})
    return detected


def report(workdir: Path, modules: list[str], target: float) -> int:
    statuses = results(workdir)
    earlier = merged_detected(workdir, statuses)
    statuses.update({name: earlier[name] for name in statuses
                     if statuses[name] == "not checked" and name in earlier})
    equivalent = equivalent_mutants()
    diffs = {name: mutmut(workdir, "show", name, check=False).strip()
             for name, status in statuses.items()
             if status not in DETECTED and status != "not checked" and name not in equivalent
             and module_of(name) in modules}
    for name, diff in diffs.items():
        reason = equivalent_by_rule(diff)
        if reason:
            equivalent[name] = reason
    print(f"mutmut over {len(modules)} module(s), {len(statuses)} mutants\n")
    print(f"{'module':<36} {'mutants':>8} {'killed':>7} {'timeout':>8} {'survived':>9} "
          f"{'no tests':>9} {'equiv.':>7} {'score':>7}")
    total_detected = total_counted = 0
    survivors: list[str] = []
    for module in modules:
        names = [name for name in statuses if module_of(name) == module]
        counts = Counter(statuses[name] for name in names)
        equiv = [name for name in names if name in equivalent and statuses[name] not in DETECTED]
        detected = sum(counts[status] for status in DETECTED)
        counted = len(names) - len(equiv)
        total_detected += detected
        total_counted += counted
        score = detected / counted if counted else 1.0
        print(f"{module:<36} {len(names):>8} {counts['killed']:>7} {counts['timeout']:>8} "
              f"{counts['survived']:>9} {counts['no tests']:>9} {len(equiv):>7} {score:>7.1%}")
        survivors += [name for name in names
                      if statuses[name] not in DETECTED and name not in equivalent]
    score = total_detected / total_counted if total_counted else 1.0
    print(f"\nmutation score: {total_detected} of {total_counted} = {score:.1%} "
          f"(target {target:.0%})")
    listed = [name for name in equivalent if name in statuses and statuses[name] not in DETECTED]
    if listed:
        print(f"\nequivalent mutants ({len(listed)}), left out of the score:")
        for name in listed:
            change = " / ".join(changed_lines(diffs.get(name, ""))[1]) or "(see mutmut show)"
            print(f"  {name}: {equivalent[name]}\n      {change}")
    stale = [name for name in equivalent if module_of(name) in modules and (
        name not in statuses or statuses[name] in DETECTED)]
    if stale:
        print(f"\nlisted as equivalent but killed or gone (update {EQUIVALENT_FILE.name}):")
        print("\n".join(f"  {name}" for name in stale))
    if survivors:
        print(f"\nsurviving mutants ({len(survivors)}):")
        for name in survivors:
            print(f"\n{statuses[name]}: " + diffs.get(name, name))
    not_run = [name for name, status in statuses.items() if status == "not checked"]
    if not_run:
        print(f"\n{len(not_run)} mutants were not run (interrupted?)")
    return 0 if score >= target and not not_run else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(TESTS),
                        help="modules to mutate (default: all of TESTS)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/netspec-mutation"))
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--report-only", action="store_true",
                        help="print the results of the last run in --workdir")
    parser.add_argument("--rerun", action="store_true",
                        help="copy the tests again and rerun the last run's survivors")
    args = parser.parse_args()
    unknown = [module for module in args.modules if module not in TESTS]
    if unknown:
        parser.error(f"no tests known for {unknown}; add them to TESTS")
    if args.rerun:
        rerun(args.workdir, args.modules, args.max_children)
    elif not args.report_only:
        prepare(args.workdir, args.modules)
        mutmut(args.workdir, "run", "--max-children", str(args.max_children), check=False)
    return report(args.workdir, args.modules, args.target)


if __name__ == "__main__":
    sys.exit(main())
