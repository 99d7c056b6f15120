""" "What is in production?" answered by modelpins and by GTO on equally sized registries.

    .venv/bin/python bench/gto_compare.py [--models 1000] [--runs 3]

Both sides hold N models with 2 versions and 3 aliases/stages each (production, staging, dev):
  - GTO: a git repo with GTO's own tags (`name@v0.0.K` registers, `name#stage#N` assigns),
    written in one `git fast-import` (5 annotated tags per model); asked with `gto show --json`.
  - modelpins: model_pins.yaml in git (asked offline: parse the file) and an MLflow server
    seeded through REST (asked live: one paged `registered-models/search`).
Every answer is checked against the expected {model: production version}; each figure is the
median of fresh processes. Data lives in .bench/gto and is deleted first.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, Rest, machine

from devkit.devserver import DevServer

STAGES = {"production": lambda i: 1 + i % 2, "staging": lambda i: 2, "dev": lambda i: 2}
ASK_FILE = """
import json, sys
from modelpins import pins
p = pins.load(sys.argv[1])
print(json.dumps({m.name: m.aliases["production"].version for m in p.models.values() if "production" in m.aliases}))
"""
ASK_REGISTRY = """
import json, sys
from modelpins.registry import MlflowRegistry
state = MlflowRegistry(sys.argv[1]).aliases()
print(json.dumps({m: a["production"] for m, a in state.items() if "production" in a}))
"""
ASK_GTO = """
import json, subprocess, sys
shown = json.loads(subprocess.run([sys.argv[1], "show", "--json"], capture_output=True, text=True, check=True,
                                  cwd=sys.argv[2]).stdout)
print(json.dumps({m: int(s["stage"]["production"].rsplit(".", 1)[1]) for m, s in shown.items()
                  if s["stage"].get("production")}))
"""


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=True).stdout


def build_gto_repo(repo: Path, names: list[str]) -> None:
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    commits = {}
    for v in (1, 2):  # GTO allows one version of an artifact per commit
        git(repo, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-q", "--allow-empty", "-m", f"v{v}")
        commits[v] = git(repo, "rev-parse", "HEAD").strip()
    stream, now = [], int(time.time())

    def tag(name: str, commit: str, message: str, at: int) -> None:
        data = message.encode()
        stream.append(f"tag {name}\nfrom {commit}\ntagger b <b@example.com> {at} +0000\ndata {len(data)}\n{message}\n")

    for i, name in enumerate(names):
        for v in (1, 2):
            tag(f"{name}@v0.0.{v}", commits[v], f"Registering artifact {name} version v0.0.{v}", now + v)
        for n, (stage, version) in enumerate(STAGES.items(), start=1):
            message = f"Assigning stage {stage} to artifact {name} version v0.0.{version(i)}"
            tag(f"{name}#{stage}#{n}", commits[version(i)], message, now + 10 + n)
    git(repo, "fast-import", "--quiet", stdin="".join(stream))


def median_run(argv: list[str], runs: int, expected: dict[str, int]) -> float:
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=600)
        walls.append(time.perf_counter() - start)
        if out.returncode != 0 or json.loads(out.stdout) != expected:
            raise SystemExit(f"wrong answer from {argv[:3]}...: {out.stderr[-500:] or out.stdout[:300]}")
    return statistics.median(walls)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = ROOT / ".bench" / "gto"
    shutil.rmtree(work, ignore_errors=True)
    names = [f"model-{i:05d}" for i in range(args.models)]
    expected = {name: STAGES["production"](i) for i, name in enumerate(names)}
    print(f"machine: {machine()}")

    t = time.perf_counter()
    build_gto_repo(work / "gto-repo", names)
    print(f"GTO repo: {5 * len(names)} tags written in {time.perf_counter() - t:.1f}s", flush=True)
    pins = work / "model_pins.yaml"
    lines = ["version: 1", "models:"]
    for i, name in enumerate(names):
        lines += [f"  {name}:", "    aliases:", *(f"      {s}: {v(i)}" for s, v in STAGES.items())]
    pins.write_text("\n".join(lines) + "\n")

    server = DevServer(work / "mlflow").start()
    try:
        t = time.perf_counter()
        rest = Rest(server.url)
        for parity in (0, 1):  # the production version alternates; seed each half in parallel threads
            rest.seed(names[parity::2], versions=2, aliases={s: v(parity) for s, v in STAGES.items()})
        print(f"MLflow: {len(names)} models seeded in {time.perf_counter() - t:.0f}s", flush=True)
        gto_bin = str(Path(sys.executable).with_name("gto"))
        results = {
            "GTO: gto show --json (git tags)": median_run(
                [sys.executable, "-c", ASK_GTO, gto_bin, str(work / "gto-repo")], args.runs, expected
            ),
            "modelpins: model_pins.yaml (offline)": median_run(
                [sys.executable, "-c", ASK_FILE, str(pins)], args.runs, expected
            ),
            "modelpins: MLflow registry (live, paged search)": median_run(
                [sys.executable, "-c", ASK_REGISTRY, server.url], args.runs, expected
            ),
        }
    finally:
        server.stop()
    gto = results["GTO: gto show --json (git tags)"]
    print(
        f"\n| {args.models} models x 3 stages: what is in production? | median wall s ({args.runs} runs) | GTO / this |"
    )
    print("|---|---:|---:|")
    for name, wall in results.items():
        print(f"| {name} | {wall:.2f} | {gto / wall:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
