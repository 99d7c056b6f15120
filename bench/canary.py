"""`modelpins canary advance` for 50 canaries: Prometheus's queries plus the decisions, end to end.

    python3 bench/canary.py [--canaries 50] [--runs 3]

A real Prometheus (Debian's `prometheus`, loopback, 1 s scrape) scrapes the loopback stand-in of
vLLM's /metrics (devkit.canary_metrics) serving every canary's two tracks. Each run is one
`modelpins canary advance` process over all the canaries of a fresh git repository (healthy
traffic over a 15 s window, no minimum time, so every canary moves one step: 50 edits of the file), without
--commit and without a tracking URI (no MLflow records). Per canary: 1 parse check and 2 reads
per query (3 queries), plus 2 request counts: 11 HTTP requests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

from devkit.canary_metrics import PrometheusServer, Traffic, VllmStandIn, prometheus_binary
from tests.canary.pins import QUERIES

NAMESPACE = "ml-canary"


def pins_text(n: int) -> str:
    out = [
        "version: 1",
        "models:",
        "  chat:",
        "    aliases: {champion: 1, challenger: 2}",
        "environments:",
        "  production:",
        f"    namespace: {NAMESPACE}",
        "    gateway: gateways/ml-gateway",
        "    tracking_uri: https://mlflow.acme.example",
        "deployments:",
    ]
    for i in range(n):
        out += [
            f"  canary-{i:03d}:",
            "    environment: production",
            "    serve: [chat@champion]",
            "    strategy:",
            "      type: canary",
            "      candidate: [chat@challenger]",
            "      steps: [10, 50, 100]",
            "      weight: 10",
            "      analysis:",
            "        window: 15s",
            "        min_requests: 20",
            "        queries:",
            QUERIES.rstrip("\n"),
        ]
    return "\n".join(out) + "\n"


def repo_with(text: str, where: Path) -> Path:
    where.mkdir()
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=where, check=True)
    (where / "model_pins.yaml").write_text(text)
    subprocess.run([*git, "add", "model_pins.yaml"], cwd=where, check=True)
    subprocess.run([*git, "commit", "-qm", "canaries"], cwd=where, check=True)
    return where / "model_pins.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if prometheus_binary() is None:
        print("prometheus is not installed (apt-get install prometheus); nothing measured")
        return 1
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        standin = VllmStandIn().start()
        for i in range(args.canaries):
            for track in ("stable", "candidate"):
                standin.set(NAMESPACE, f"canary-{i:03d}", track, Traffic(rps=30))
        prom = PrometheusServer(Path(tmp) / "prometheus", (standin.target,)).start()
        try:
            time.sleep(16)  # a full 15 s window of traffic
            env = {**os.environ, "MODELPINS_PROMETHEUS_URL": prom.url}
            env.pop("MLFLOW_TRACKING_URI", None)
            times = []
            for run in range(args.runs):
                pins = repo_with(pins_text(args.canaries), Path(tmp) / f"repo-{run}")
                start = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-m", "modelpins", "--pins", str(pins), "canary", "advance"],
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                )
                times.append(time.perf_counter() - start)
                moved = pins.read_text().count("weight: 50")
                print(f"run {run + 1}: {times[-1]:.2f} s, exit {out.returncode}, {moved}/{args.canaries} moved to 50%")
                held = [ln.strip() for ln in out.stdout.splitlines() if ": HOLD" in ln or ln.startswith("  no ")]
                for line in held[:6]:
                    print(f"  {line}")
                if out.returncode != 0:
                    print(out.stderr[-2000:])
        finally:
            prom.stop()
            standin.stop()
    best = min(times)
    print(f"advance, {args.canaries} canaries: best {best:.2f} s ({best / args.canaries * 1000:.0f} ms a canary)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
