"""CLI cold start: `modelpins --help` and offline `validate`, against importing mlflow up front and `gto --help`.

    .venv/bin/python bench/cold_start.py [--runs 7]

Prints the median wall time of fresh processes, their median CPU time (user + system: it moves
less than wall time when other work shares the cores), which heavy modules each one imported
(mlflow, docker, kubernetes, requests; checked in sys.modules at exit) and the ratios.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

from common import ROOT, machine

HEAVY = ("mlflow", "docker", "kubernetes", "requests")
PINS = str(ROOT / "model_pins.yaml")
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
        out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
        walls.append(time.perf_counter() - start)
        cpus.append(cpu() - start_cpu)
        imported = next((line for line in out.stderr.splitlines() if line.startswith("IMPORTED")), out.stderr[-200:])
    return statistics.median(walls), statistics.median(cpus), imported.removeprefix("IMPORTED ")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    runs = ap.parse_args().runs
    print(f"machine: {machine()}")
    results = {name: timed(argv, runs) for name, argv in CASES}
    base = results["modelpins --help"][0]
    print(f"\n| command | median wall s ({runs} runs) | median CPU s | heavy modules imported | x modelpins --help |")
    print("|---|---:|---:|---|---:|")
    for name, (wall, used, imported) in results.items():
        print(f"| {name} | {wall:.3f} | {used:.3f} | {imported} | {wall / base:.1f}x |")
    clean = all(results[n][2] == "[]" for n in ("modelpins --help", "modelpins validate (offline)"))
    print(f"\n--help and offline validate import none of {', '.join(HEAVY)}: {'yes' if clean else 'NO'}")
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
