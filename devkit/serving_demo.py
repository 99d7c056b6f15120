"""The serving step of `make demo`: render the repository's pins and show what each strategy produced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

OUT = Path(".demo") / "manifests"


def load(rel: str) -> dict[str, Any]:
    return dict(yaml.safe_load((OUT / rel).read_text()))


def show(env: dict[str, str]) -> None:
    print(f"$ modelpins render --out {OUT}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "modelpins", "render", "--out", str(OUT)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    print(done.stdout.strip().splitlines()[-1])
    for overlay in sorted(OUT.glob("*/kustomization.yaml")):
        k = yaml.safe_load(overlay.read_text())
        print(f"  {overlay.parent.name:11} namespace {k['namespace']:14} resources {', '.join(k['resources'])}")

    print("\ncanary 'support-assistant': HTTPRoute weights (stable / candidate)")
    route = load("base/support-assistant/httproute-support-assistant.yaml")
    for ref in route["spec"]["rules"][0]["backendRefs"]:
        print(f"  {ref['name']:30} weight {ref['weight']:3}")
    for track in ("stable", "candidate"):
        dep = load(f"base/support-assistant/deployment-support-assistant-{track}.yaml")
        pod = dep["spec"]["template"]["spec"]
        print(f"  {dep['metadata']['name']:30} replicas {dep['spec']['replicas']}  serves {_serves(dep)}")
        print(f"  {'':30} vllm {' '.join(pod['containers'][0]['args'])}")

    print("\nblue-green 'credit-risk': Service selector (switch with strategy.active)")
    svc = load("base/credit-risk/service-credit-risk.yaml")
    print(f"  Service credit-risk -> {svc['spec']['selector']}")
    for color in ("blue", "green"):
        dep = load(f"base/credit-risk/deployment-credit-risk-{color}.yaml")
        print(f"  {dep['metadata']['name']:30} serves {_serves(dep)}")


def _serves(dep: dict[str, Any]) -> str:
    return str(dep["metadata"]["annotations"]["modelpins.io/serves"])
