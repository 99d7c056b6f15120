"""The pull-request job of the composite action (`mode: pr`), its steps in sequence, cold and from the cache.

    .venv/bin/python bench/pr_job.py [--python python3]

The steps are the ones .github/actions/modelpins/action.yml runs in `pr` mode, with the same
commands and arguments: install from the lock (pip installs uv from requirements/tools.txt, uv
installs requirements/serving.txt with every hash checked, then the project without
dependencies), validate --offline, plan --base, gate --base --no-record --report, report,
comment. Each way starts from a fresh virtualenv (what `actions/setup-python` hands the action);
cold: an empty download cache (the runner's cache missed); cached: the cache the cold run filled
(what the action's `actions/cache` step restores). The pull request promotes 3 aliases (champion
of 3 models, version 1 to 2), each with 5 threshold gates, against a real MLflow server on
loopback and the GitHub REST stand-in of the tests (the comment step posts to it). The
checkout and the runner's own set-up are not timed: GitHub does them before the action runs.

The act harness (tests/workflows) is not used for this: its stand-ins for setup-python and
actions/cache replace exactly what is measured here (a virtualenv that already holds the
lock's packages, and a cache that always misses).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

from action_install import locked
from common import ROOT, machine

from devkit.devserver import DevServer, seed_model
from tests.helpers.github_stub import GitHubStub

METRICS = ("accuracy", "f1", "precision", "recall", "auc")
MODELS = ("pr-bench-a", "pr-bench-b", "pr-bench-c")
Timings = dict[str, tuple[float, float]]  # step -> (wall s, CPU s)
CPU: dict[str, float] = {}  # the last run's CPU seconds per step
INSTALL = ("install: pip installs uv", "install: uv installs the lock", "install: uv builds and installs modelpins")


def pins_text(champion: int) -> str:
    lines = ["version: 1", "models:"]
    for model in MODELS:
        lines += [f"  {model}:", "    aliases:", f"      champion: {champion}", "    gates:", "      champion:"]
        lines += [f"        - {{kind: threshold, metric: {m}, min: 0.8}}" for m in METRICS]
    return "\n".join(lines) + "\n"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args], cwd=repo, check=True,
                   capture_output=True)  # fmt: skip


def repository(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "model_pins.yaml").write_text(pins_text(1))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pins")
    git(repo, "checkout", "-q", "-b", "promote")
    (repo / "model_pins.yaml").write_text(pins_text(2))
    git(repo, "commit", "-qam", "promote")
    return repo


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def step(name: str, argv: list[str], cwd: Path, env: dict[str, str], allowed: tuple[int, ...] = (0,)) -> float:
    """Run one step; its wall time (its CPU time, user + system of it and its children, goes to CPU[name])."""
    start, start_cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    CPU[name] = children_cpu() - start_cpu
    if done.returncode not in allowed:
        raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall


def job(way: str, python: str, work: Path, cache: Path, repo: Path, env: dict[str, str]) -> Timings:
    venv = work / f"venv-{way}"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    runner_temp = work / f"temp-{way}"
    runner_temp.mkdir()
    env = {**env, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "RUNNER_TEMP": str(runner_temp)}
    env.update(UV_PYTHON_DOWNLOADS="never", UV_SYSTEM_CERTS="1")
    times: dict[str, float] = {}
    for name, argv in zip(INSTALL, locked(py, cache), strict=True):
        times[name] = step(name, argv, ROOT, env)
    times["install"] = sum(times[name] for name in INSTALL)
    mp = [str(venv / "bin" / "modelpins"), "--pins", "model_pins.yaml"]
    gates, comment = runner_temp / "modelpins-gates.md", runner_temp / "modelpins-comment.md"
    times["validate"] = step("validate", [*mp, "validate", "--offline"], repo, env)
    times["plan"] = step("plan", [*mp, "plan", "--base", "main"], repo, env)
    times["gates"] = step("gates", [*mp, "gate", "--base", "main", "--no-record", "--report", str(gates)], repo, env)
    report = [*mp, "report", "--base", "main", "--gates", str(gates), "--gates-outcome", "success"]
    times["report"] = step("report", [*report, "--out", str(comment)], repo, env)
    author = ["--author", "github-actions[bot]"]
    times["comment"] = step("comment", [mp[0], "comment", "--pr", "7", "--body-file", str(comment), *author], repo, env)
    CPU["install"] = sum(CPU[name] for name in INSTALL)
    times["job"] = sum(t for name, t in times.items() if name not in INSTALL)
    CPU["job"] = sum(t for name, t in CPU.items() if name not in INSTALL and name != "job")
    return {name: (wall, CPU[name]) for name, wall in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default="python3", help="the interpreter setup-python would hand the action")
    args = ap.parse_args()
    work = ROOT / ".bench" / "pr_job"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"machine: {machine()}; load {os.getloadavg()}", flush=True)
    server = DevServer(work / "mlflow").start(timeout=600)
    github = GitHubStub().start()
    try:
        for model in MODELS:
            seed_model(server.url, model, [dict.fromkeys(METRICS, 0.85), dict.fromkeys(METRICS, 0.9)], {"champion": 1})
        repo = repository(work)
        # a runner's environment: no virtualenv, uv or pip settings of this shell, and bytecode written
        # (a shell with PYTHONDONTWRITEBYTECODE would compile every module again in every step)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PIP_"))}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(github.env(), MLFLOW_TRACKING_URI=server.url, GITHUB_STEP_SUMMARY=str(work / "summary.md"))
        cache = work / "uv-cache"
        rows = {way: job(way, args.python, work, cache, repo, env) for way in ("cold", "cached")}
        posted = github.comments.get(7, [])
        assert len(posted) == 1 and "ready for review" in posted[0]["body"], posted
    finally:
        github.stop()
        server.stop()
    print(f"load after: {os.getloadavg()}")
    print("\n| step | cold wall s | cold CPU s | from the cache wall s | from the cache CPU s |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, used) in rows["cold"].items():
        print(f"| {name} | {wall:.2f} | {used:.2f} | {rows['cached'][name][0]:.2f} | {rows['cached'][name][1]:.2f} |")
    cold, cached = rows["cold"]["job"], rows["cached"]["job"]
    print(f"\ncached / cold (whole job): {cached[0] / cold[0]:.2f}x wall, {cached[1] / cold[1]:.2f}x CPU; one comment "
          "posted, then edited in place by the second run")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
