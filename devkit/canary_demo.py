"""The canary step of `make demo`: a canary advances one step on live metrics, then rolls back when errors rise.

A real Prometheus (Debian's `prometheus`) scrapes the loopback stand-in of vLLM's /metrics
(devkit.canary_metrics); skipped, with a line saying so, when Prometheus is not installed.
Runs on its own too: `python -m devkit.canary_demo`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from devkit.canary_metrics import PrometheusServer, Traffic, VllmStandIn, prometheus_binary

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(".demo") / "canary"
NAMESPACE, DEPLOYMENT = "ml-production", "support-assistant"
# The repository's pins, with a window and minimum times a demo can wait for.
FAST = {"window: 10m": "window: 5s", "min_requests: 200": "min_requests: 20", "min_time: 30m": "min_time: 0s"}


def git(*args: str, at: str | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": at, "GIT_COMMITTER_DATE": at} if at else None
    return subprocess.run(["git", *args], cwd=WORK, check=True, capture_output=True, text=True, env=env).stdout


def prepare() -> Path:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    text = (ROOT / "model_pins.yaml").read_text()
    for old, new in FAST.items():
        text = text.replace(old, new)
    (WORK / "model_pins.yaml").write_text(text)
    git("init", "-q", "-b", "main")
    git("config", "user.name", "Demo")
    git("config", "user.email", "demo@modelpins.example")
    git("config", "commit.gpgsign", "false")
    git("add", "model_pins.yaml")
    hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(timespec="seconds")
    git("commit", "-qm", "support-assistant: canary at 10%", at=hour_ago)
    return WORK / "model_pins.yaml"


def advance(pins: Path, env: dict[str, str]) -> int:
    print(f"$ modelpins --pins {pins} canary advance {DEPLOYMENT} --commit", flush=True)
    code = subprocess.run(
        [sys.executable, "-m", "modelpins", "--pins", str(pins), "canary", "advance", DEPLOYMENT, "--commit"], env=env
    ).returncode
    print(f"(exit {code})")
    print(git("show", "--format=  commit %h %s", "-U0", "HEAD", "--", "model_pins.yaml").rstrip())
    return code


def show(env: dict[str, str]) -> None:
    if prometheus_binary() is None:
        print("skipped: Prometheus is not installed here (apt-get install prometheus, or make sysdeps)")
        return
    pins = prepare()
    standin = VllmStandIn().start()
    healthy = Traffic(rps=40, error_ratio=0.001, latency=0.8, ttft=0.2)
    standin.set(NAMESPACE, DEPLOYMENT, "stable", healthy)
    standin.set(NAMESPACE, DEPLOYMENT, "candidate", healthy)
    prom = PrometheusServer(WORK / "prometheus", (standin.target,)).start()
    env = {**env, "MODELPINS_PROMETHEUS_URL": prom.url}
    try:
        print(f"Prometheus at {prom.url} scrapes a stand-in of vLLM's /metrics at {standin.target} every second")
        time.sleep(6.5)
        print("\nBoth tracks healthy; the canary has been at 10% for an hour:")
        advance(pins, env)
        print("\nThe candidate's error ratio rises to 20% (aborted requests):")
        standin.set(NAMESPACE, DEPLOYMENT, "candidate", Traffic(rps=40, error_ratio=0.2, latency=0.8, ttft=0.2))
        time.sleep(6.5)
        advance(pins, env)
    finally:
        prom.stop()
        standin.stop()


if __name__ == "__main__":
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    show(env)
