"""`modelpins render` for 1,000 deployments, next to a plain PyYAML loop writing one Deployment and Service each.

    .venv/bin/python bench/render.py [--deployments 1000] [--runs 3]

Generates a pins file (N models with champion/challenger, two environments, N deployments,
every fourth a canary) in .bench/render and times `modelpins --pins FILE render --out DIR`
as fresh processes (median), counting the files and bytes it wrote. The baseline is the least a
renderer can do: a loop of `yaml.dump` calls, one Deployment + Service per deployment, no checks.
`render` comes with the serving package (modelpins/serving); where a build lacks it,
the script says so and measures the baseline only.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, machine

# ext4 skips, when it allocates an inode, those freed in the last 30 s (35 while their block is dirty):
# files created just after thousands were deleted cost far more system time (measured here: 7,000
# files in a new tree 0.24 s, in the tree deleted just before 3.9 to 5.8 s), a cost that grows with
# the number of files and so would weigh on render's 7,007 files seven times as on the baseline's
# 1,000. Each run therefore writes into a directory of its own, and an earlier run's trees are deleted
# this long before anything is timed.
RECENTLY_FREED = 40

BASELINE = """
import sys, yaml
from pathlib import Path
from modelpins import pins
p = pins.load(sys.argv[1])
out = Path(sys.argv[2])
for d in p.deployments.values():
    env = p.environments[d.environment]
    labels = {"app.kubernetes.io/name": d.name}
    docs = [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": d.name, "namespace": env.namespace, "labels": labels},
         "spec": {"replicas": d.replicas, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                      {"name": "vllm", "image": "vllm:" + str(d.serve[0].model),
                       "args": list(d.vllm_args), "ports": [{"containerPort": d.port}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": d.name, "namespace": env.namespace},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": d.port}]}},
    ]
    (out / env.name).mkdir(parents=True, exist_ok=True)
    (out / env.name / (d.name + ".yaml")).write_text(yaml.dump_all(docs, Dumper=yaml.SafeDumper, sort_keys=True))
"""


def pins_text(n: int) -> str:
    lines = ["version: 1", "models:"]
    for i in range(n):
        lines += [f"  model-{i:04d}:", "    aliases:", "      champion: 1", "      challenger: 2"]
    lines += ["images:", "  registry: registry.example/serving", f"  base: vllm/vllm-openai@sha256:{'0' * 64}"]
    lines += [f"  classic: registry.example/serving/mlflow-serve@sha256:{'1' * 64}"]
    lines += ["environments:"]
    for env in ("staging", "production"):
        lines += [f"  {env}:", f"    namespace: ml-{env}", "    gateway: gateways/ml-gateway"]
        lines += ["    tracking_uri: https://mlflow.example"]
    lines += ["deployments:"]
    for i in range(n):
        lines += [
            f"  svc-{i:04d}:",
            f"    environment: {'production' if i % 2 else 'staging'}",
            f"    serve: [model-{i:04d}@champion]",
        ]
        if i % 4 == 0:
            lines += [
                "    strategy:",
                "      type: canary",
                f"      candidate: [model-{i:04d}@challenger]",
                "      weight: 10",
            ]
        lines += ["    replicas: 2", "    resources: {cpu: '2', memory: 4Gi}"]
    return "\n".join(lines) + "\n"


def timed(argv: list[str], out: Path, runs: int, fresh: bool = True) -> tuple[float, int, int]:
    """Median wall time of `runs` runs, files, bytes. `{out}` in `argv` is the output directory: a new one
    for each run when `fresh` (never one just emptied, see RECENTLY_FREED), else `out` every time."""
    walls = []
    for i in range(runs):
        where = out / f"run-{i}" if fresh else out
        where.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        done = subprocess.run(
            [a.replace("{out}", str(where)) for a in argv], capture_output=True, text=True, cwd=ROOT, timeout=600
        )
        walls.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv[:4])}... failed ({done.returncode}):\n{done.stderr[-2000:]}")
    files = [f for f in where.rglob("*") if f.is_file()]
    return statistics.median(walls), len(files), sum(f.stat().st_size for f in files)


def clear(work: Path) -> None:
    """Delete an earlier run's trees, then wait until ext4 reuses their inodes freely again."""
    if work.exists():
        shutil.rmtree(work)
        print(f"deleted the previous run's files; waiting {RECENTLY_FREED} s before timing (RECENTLY_FREED)")
        time.sleep(RECENTLY_FREED)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--deployments", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = ROOT / ".bench" / "render"
    clear(work)
    work.mkdir(parents=True)
    pins = work / "model_pins.yaml"
    pins.write_text(pins_text(args.deployments))
    print(f"machine: {machine()}")
    print(f"pins file: {args.deployments} deployments, {pins.stat().st_size // 1024} KiB")
    rows = {
        "baseline: yaml.dump loop (Deployment + Service)": timed(
            [sys.executable, "-c", BASELINE, str(pins), "{out}"], work / "baseline", args.runs
        )
    }
    rows["context: the same loop with libyaml's yaml.CSafeDumper"] = timed(
        [sys.executable, "-c", BASELINE.replace("yaml.SafeDumper", "yaml.CSafeDumper"), str(pins), "{out}"],
        work / "c",
        args.runs,
    )
    has_render = (
        subprocess.run(
            [sys.executable, "-m", "modelpins", "render", "--help"], capture_output=True, text=True, cwd=ROOT
        ).returncode
        == 0
    )
    if has_render:
        argv = [sys.executable, "-m", "modelpins", "--pins", str(pins), "render", "--out", "{out}"]
        argv += ["--dockerfile", str(ROOT / "deploy" / "Dockerfile")]
        rows["modelpins render --out DIR"] = timed(argv, work / "rendered", args.runs)
        again = work / "rendered" / f"run-{args.runs - 1}"  # the last fresh run's tree, rendered into again
        rows["modelpins render --out DIR, again (nothing changed)"] = timed(argv, again, args.runs, False)
    else:
        print("modelpins render is not in this build (it comes with modelpins/serving); baseline only")
    base = rows["baseline: yaml.dump loop (Deployment + Service)"][0]
    print(f"\n| {args.deployments} deployments | median wall s ({args.runs} runs) | files | KiB | x baseline |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall, files, size) in rows.items():
        print(f"| {name} | {wall:.2f} | {files} | {size // 1024} | {wall / base:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
