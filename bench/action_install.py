"""The composite action's install step: the unlocked `pip install ROOT[serving]` it replaced, next to the lock.

    python3 bench/action_install.py [--python python3] [--runs 1]

Each way runs in a fresh virtualenv (what `actions/setup-python` hands the action: an interpreter with
pip and nothing else), twice: cold (an empty download cache, as on a runner whose cache missed) and
warm (the cache of the cold run, as after the action's `actions/cache` restore). The locked way is
the action's own commands: pip installs uv from requirements/tools.txt, uv installs
requirements/serving.txt with every hash checked, then the project without dependencies.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import ROOT, machine

LOCK = ROOT / "requirements"
PIP = ["-m", "pip", "install", "--disable-pip-version-check", "--quiet"]


def unlocked(py: str, cache: Path) -> list[list[str]]:
    return [[py, *PIP, "--cache-dir", str(cache), f"{ROOT}[serving]"]]


def locked(py: str, cache: Path) -> list[list[str]]:
    uv = [py, "-m", "uv", "pip", "install", "--quiet", "--python", py, "--cache-dir", str(cache)]
    return [
        [py, *PIP, "--cache-dir", str(cache), "--require-hashes", "--no-deps", "-r", str(LOCK / "tools.txt")],
        [*uv, "--require-hashes", "-r", str(LOCK / "serving.txt")],
        [*uv, "--no-deps", str(ROOT)],
    ]


def timed(way: Callable[[str, Path], list[list[str]]], python: str, cache: Path, work: Path) -> float:
    env_dir = work / "venv"
    shutil.rmtree(env_dir, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(env_dir)], check=True)
    py = str(env_dir / "bin" / "python")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "HOME": str(work), "XDG_CACHE_HOME": str(work / "xdg")}
    start = time.perf_counter()
    for cmd in way(py, cache):
        subprocess.run(cmd, check=True, env=env)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="python3")
    args = parser.parse_args()
    print(machine())
    rows = []
    for name, way in (("unlocked pip install ROOT[serving]", unlocked), ("lock: pip -> uv --require-hashes", locked)):
        with tempfile.TemporaryDirectory() as tmp:
            work, cache = Path(tmp), Path(tmp) / "cache"
            cold = timed(way, args.python, cache, work)
            warm = timed(way, args.python, cache, work)
        rows.append((name, cold, warm))
        print(f"{name}: cold {cold:.1f} s, warm {warm:.1f} s", flush=True)
    (_, cold0, warm0), (_, cold1, warm1) = rows
    print("| install step | cold cache s | warm cache s |")
    print("|---|---:|---:|")
    for name, cold, warm in rows:
        print(f"| {name} | {cold:.1f} | {warm:.1f} |")
    print(f"| unlocked / lock | {cold0 / cold1:.1f}x | {warm0 / warm1:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
