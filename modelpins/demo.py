"""`make demo`: the promotion flow on a local MLflow server seeded with demo models.

Starts a fresh server under .demo/, registers the demo models in the state a team
would have before this pull request (champion on an older version), then runs
validate -> plan -> apply on the repository's model_pins.yaml as a user would,
shows the aliases MLflow now holds, and stops the server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from modelpins.devserver import DevServer, seed_model

# name -> (metrics per version, aliases before the PR, params, artefact files, description)
DEMO_MODELS: dict[str, dict[str, object]] = {
    "credit-risk-classifier": {
        "versions": [
            {"accuracy": 0.84, "auc": 0.88, "latency_p99_ms": 31.0},
            {"accuracy": 0.88, "auc": 0.91, "latency_p99_ms": 29.0},
            {"accuracy": 0.91, "auc": 0.93, "latency_p99_ms": 30.0},
            {"accuracy": 0.93, "auc": 0.95, "latency_p99_ms": 33.0},
            {"accuracy": 0.86, "auc": 0.90, "latency_p99_ms": 95.0},
        ],
        "aliases": {"champion": 2},
        "params": {"algorithm": "logistic-regression", "dataset": "loans-2024q4", "code_commit": "4be1c3d"},
    },
    "support-llm-base": {
        "versions": [{}],
        "aliases": {"production": 1},
        "files": {"config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096})},
    },
    "support-assistant-lora": {
        "versions": [
            {"safety_score": 0.97, "accuracy": 0.81},
            {"safety_score": 0.98, "accuracy": 0.84},
            {"safety_score": 0.96, "accuracy": 0.86},
        ],
        "aliases": {"champion": 1},
        "params": {"base_model": "support-llm-base", "base_model_version": "1", "lora_rank": "16"},
        "files": {"adapter_config.json": json.dumps({"r": 16, "target_modules": ["q_proj", "v_proj"]})},
    },
    "support-prompts": {
        "versions": [{}, {}],
        "aliases": {"champion": 1},
        "files": {"system_prompt.txt": "You are a helpful support assistant for Acme. Be brief and accurate.\n"},
    },
}


def seed(tracking_uri: str) -> None:
    for name, spec in DEMO_MODELS.items():
        seed_model(
            tracking_uri,
            name,
            list(spec["versions"]),  # type: ignore[call-overload]
            dict(spec.get("aliases", {})),  # type: ignore[call-overload]
            params=dict(spec.get("params", {})),  # type: ignore[call-overload]
            files=dict(spec["files"]) if "files" in spec else None,  # type: ignore[call-overload]
        )


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def modelpins(*args: str, env: dict[str, str], check: bool = True) -> int:
    print(f"$ modelpins {' '.join(args)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "modelpins", *args], env=env).returncode
    if check and code != 0:
        raise SystemExit(f"demo: 'modelpins {' '.join(args)}' exited {code}")
    return code


def show_aliases(tracking_uri: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    for name in DEMO_MODELS:
        aliases = client.get_registered_model(name).aliases
        shown = ", ".join(f"{a} -> v{v}" for a, v in sorted(aliases.items()))
        print(f"  {name:26} {shown}")


Step = Callable[[dict[str, str]], None]
# Later stages of the flow (gates, serving) add themselves here; each gets the CLI environment.
EXTRA_STEPS: list[tuple[str, Step]] = []


def main() -> int:
    root = Path(".demo")
    shutil.rmtree(root / "mlflow", ignore_errors=True)
    step("Start a local MLflow tracking server (sqlite, loopback)")
    server = DevServer(root / "mlflow").start()
    print(f"MLflow at {server.url} (data in {root / 'mlflow'})")
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MODELPINS_ACTOR": "demo@modelpins"}
    try:
        step("Seed demo models as they stood before this change")
        seed(server.url)
        show_aliases(server.url)
        step("Validate model_pins.yaml (schema, and every pinned version exists in MLflow)")
        modelpins("validate", env=env)
        step("Plan: what would change")
        modelpins("plan", env=env)
        step("Apply")
        modelpins("apply", "--yes", env=env)
        step("Aliases now set in MLflow")
        show_aliases(server.url)
        step("Apply again: nothing left to do")
        modelpins("apply", "--yes", env=env)
        for title, extra in EXTRA_STEPS:
            step(title)
            extra(env)
    finally:
        server.stop()
        print("\nStopped the MLflow server.")
    return 0


def _register_serving() -> None:
    from modelpins.serving import demo as serving_demo

    EXTRA_STEPS.append(("Serving: render Kubernetes manifests (canary and blue-green)", serving_demo.show))


_register_serving()
