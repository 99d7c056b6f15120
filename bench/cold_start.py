"""CLI cold start: `modelpins --help` and offline `validate`, against importing mlflow up front and `gto --help`.

    .venv/bin/python bench/cold_start.py [--runs 7]

Prints the median wall time of fresh processes, their median CPU time (user + system: it moves
less than wall time when other work shares the cores), which heavy modules each one imported
(mlflow, docker, kubernetes, requests; checked in sys.modules at exit) and the ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

from common import ROOT, machine

HEAVY = ("mlflow", "docker", "kubernetes", "requests")
PINS = str(ROOT / "model_pins.yaml")
# an installed tool's start: its bytecode is written once and read after (a shell with
# PYTHONDONTWRITEBYTECODE would have every process compile again the modules changed since)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PROBE = f"""
import atexit, sys
atexit.register(lambda: print("IMPORTED", sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r})),
                              file=sys.stderr))
"""


def modelpins(*args: str) -> list[str]:
    code = (
        PROBE
        + "import runpy\nsys.argv = ['modelpins', *sys.argv[1:]]\nrunpy.run_module('modelpins', run_name='__main__')"
    )
    return [sys.executable, "-c", code, *args]


def python(statement: str) -> list[str]:
    return [sys.executable, "-c", PROBE + statement]


CASES = [
    ("modelpins --help", modelpins("--help")),
    ("modelpins validate (offline)", modelpins("--pins", PINS, "validate", "--offline")),
    ("naive: python -c 'import mlflow'", python("import mlflow")),
    ("naive: python -c 'from mlflow import MlflowClient'", python("from mlflow import MlflowClient")),
    ("gto --help", python("import sys; sys.argv = ['gto', '--help']\nfrom gto.cli import app\napp()")),
]


def cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(argv: list[str], runs: int) -> tuple[float, float, str]:
    walls, cpus, imported = [], [], ""
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), cpu()
        out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=120)
        walls.append(time.perf_counter() - start)
        cpus.append(cpu() - start_cpu)
        imported = next((line for line in out.stderr.splitlines() if line.startswith("IMPORTED")), out.stderr[-200:])
    return statistics.median(walls), statistics.median(cpus), imported.removeprefix("IMPORTED ")


def instructions(argv: list[str]) -> int:
    """Machine instructions the process executes (valgrind's count): unlike time, the same under any load."""
    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *argv],
        capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600,
    )  # fmt: skip
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    return int(found.group(1).replace(",", "")) if found else 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-instructions", action="store_true", help="skip the valgrind instruction counts")
    args = ap.parse_args()
    runs = args.runs
    print(f"machine: {machine()}; load {os.getloadavg()}")
    results = {name: timed(argv, runs) for name, argv in CASES}
    counted = not args.no_instructions and shutil.which("valgrind")
    count = {name: instructions(argv) if counted else 0 for name, argv in CASES[:2]}
    base = results["modelpins --help"][0]
    base_cpu = results["modelpins --help"][1]
    print(f"load after: {os.getloadavg()}")
    head = f"median wall s ({runs} runs) | median CPU s | heavy modules imported | x --help (wall) | x --help (CPU)"
    print(f"\n| command | {head} | instructions (valgrind) | x --help (instructions) |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for name, (wall, used, imported) in results.items():
        ins = count.get(name, 0)
        ratio = f"{ins / count['modelpins --help']:.2f}x" if ins else ""
        shown = f"{ins / 1e6:.0f} M" if ins else ""
        times = f"{wall:.3f} | {used:.3f} | {imported} | {wall / base:.1f}x | {used / base_cpu:.1f}x"
        print(f"| {name} | {times} | {shown} | {ratio} |")
    clean = all(results[n][2] == "[]" for n in ("modelpins --help", "modelpins validate (offline)"))
    print(f"\n--help and offline validate import none of {', '.join(HEAVY)}: {'yes' if clean else 'NO'}")
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
