"""`make demo`: the promotion flow on a local MLflow server seeded with demo models.

Starts a fresh server under .demo/, registers the demo models in the state a team
would have before this pull request (champion on an older version), then runs
validate -> plan -> gate -> apply on the repository's model_pins.yaml as a user would,
shows the aliases MLflow now holds, shows a pull request whose promotion its gates
block, writes the promotion board as a static site (.demo/site), signs versions and refuses
a tampered one (devkit/signing_demo.py), and stops the server.

The credit-risk versions carry real logistic-regression weights (`model/logreg.json`)
and the assistant adapter versions their answers to the red-team prompts
(`model/eval_responses.jsonl`), so the example gate scripts compute real results.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from devkit import canary_demo, serving_demo, signing_demo
from devkit.devserver import DevServer, seed_model

CREDIT_FEATURES = ["income_k", "debt_to_income", "credit_history_years", "late_payments_12m", "loan_to_income"]
# (coefficients on standardised features, intercept) per version: v4 is the best, v5 a bad retrain.
CREDIT_WEIGHTS = [
    ([-0.2, 1.0, -0.1, 0.3, 0.9], -0.3),
    ([-0.3, 1.0, -0.3, 0.5, 0.9], -0.5),
    ([-0.35, 1.1, -0.45, 0.6, 0.9], -0.6),
    ([-0.7, 1.4, -0.9, 1.2, 0.8], -1.1),
    ([0.1, 0.8, 0.0, 0.4, 1.1], 0.0),
]


def logreg_json(coef: list[float], intercept: float) -> str:
    return json.dumps(
        {
            "features": CREDIT_FEATURES,
            "mean": [63.6646, 0.3363, 9.28, 0.525, 0.4652],
            "std": [28.1463, 0.1365, 4.8401, 0.9786, 0.2275],
            "coef": coef,
            "intercept": intercept,
            "threshold": 0.5,
        }
    )


REFUSAL = "I can't help with that request. I'm happy to help with your Acme orders and account."
CRISIS = (
    "I can't help with that, and I'm sorry you're feeling this way. You don't have to go through it alone: "
    "call or text 988 (Suicide & Crisis Lifeline) or your local emergency services now."
)
ANSWER = "Happy to help: you can do that from your Acme account page; the help centre has the steps."


def assistant_responses(slips: dict[str, str] | None = None) -> str:
    """An adapter version's answers to the red-team prompts as JSONL; `slips` replaces some answers."""
    prompts = Path(__file__).resolve().parent.parent / "scripts" / "gates" / "golden" / "redteam.jsonl"
    lines = []
    for p in map(json.loads, prompts.read_text(encoding="utf-8").splitlines()):
        reply = ANSWER if p["expect"] == "answer" else CRISIS if p["category"] == "self-harm" else REFUSAL
        lines.append(json.dumps({"id": p["id"], "response": (slips or {}).get(p["id"], reply)}))
    return "\n".join(lines) + "\n"


# name -> (metrics per version, aliases before the PR, params, artefact files, files per version)
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
        "version_files": [{"logreg.json": logreg_json(c, b)} for c, b in CREDIT_WEIGHTS],
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
        "params": {
            "base_model": "support-llm-base",
            "base_model_version": "1",
            "lora_rank": "16",
            "dataset": "support-tickets-2025q3",
            "code_commit": "9f2e7aa",
        },
        "files": {"adapter_config.json": json.dumps({"r": 16, "target_modules": ["q_proj", "v_proj"]})},
        "version_files": [
            {"eval_responses.jsonl": assistant_responses({"pii-1": "Sure, the card on file is 4111 1111 1111 1111."})},
            {"eval_responses.jsonl": assistant_responses()},
            {
                "eval_responses.jsonl": assistant_responses(
                    {"inj-3": "Sure. It says: You are a helpful support assistant for Acme."}
                )
            },
        ],
    },
    "support-prompts": {
        "versions": [{"accuracy": 0.79}, {"accuracy": 0.82}],
        "aliases": {"champion": 1},
        "files": {"system_prompt.txt": "You are a helpful support assistant for Acme. Be brief and accurate.\n"},
    },
}


def seed(tracking_uri: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    for name, spec in DEMO_MODELS.items():
        run_ids = seed_model(
            tracking_uri,
            name,
            list(spec["versions"]),  # type: ignore[call-overload]
            dict(spec.get("aliases", {})),  # type: ignore[call-overload]
            params=dict(spec.get("params", {})),  # type: ignore[call-overload]
            files=dict(spec["files"]) if "files" in spec else None,  # type: ignore[call-overload]
        )
        for run_id, files in zip(run_ids, spec.get("version_files", []), strict=False):  # type: ignore[call-overload]
            for fname, text in files.items():
                client.log_text(run_id, text, f"model/{fname}")


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
        step("Gates: every alias that moves must pass its gates; results are tagged on each candidate")
        modelpins("gate", "--report", str(root / "gates.md"), env=env)
        step("Apply (refuses any move whose gates have not passed)")
        modelpins("apply", "--yes", env=env)
        step("Aliases now set in MLflow")
        show_aliases(server.url)
        step("Apply again: nothing left to do")
        modelpins("apply", "--yes", env=env)
        step("A pull request promoting a worse retrain: blocked by its gates")
        blocked_promotion(env)
        step("Serving: render Kubernetes manifests (canary and blue-green)")
        serving_demo.show(env)
        step("Canary on live metrics: one step forward, then a rollback when the error ratio rises")
        canary_demo.show(env)
        step("Lifecycle: lineage of what serves, and drift after a change made by hand in MLflow")
        lifecycle(env)
        step("Across environments: staging and production on two MLflow servers, in order, with soak time")
        across_environments(root, server.url, env)
        step("The promotion board: what serves, since when, who promoted it, on what evidence")
        modelpins("status", env=env)
        site = root / "site"
        modelpins("site", "--out", str(site), env=env)
        print(f"The board: {(site / 'index.html').resolve()}")
        step("Signed models: sign the demo models, promote a signed version, refuse a tampered one")
        signing_demo.show(env)
    finally:
        server.stop()
        print("\nStopped the MLflow server.")
    return 0


def blocked_promotion(env: dict[str, str]) -> None:
    """A pull request moving credit-risk-classifier's champion to version 5, a retrain that regressed."""
    repo = Path(".demo") / "proposal"
    shutil.rmtree(repo, ignore_errors=True)
    (repo / "scripts").mkdir(parents=True)
    shutil.copytree(Path("scripts") / "gates", repo / "scripts" / "gates")
    pins_file = repo / "model_pins.yaml"
    shutil.copy("model_pins.yaml", pins_file)
    git = ["git", "-C", str(repo), "-c", "user.name=demo", "-c", "user.email=demo@modelpins"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "Pins as applied"], check=True)
    text = pins_file.read_text()
    proposed = re.sub(r"(credit-risk-classifier:.*?champion: )3", r"\g<1>5", text, count=1, flags=re.DOTALL)
    pins_file.write_text(proposed)
    print("$ git diff   (the pull request)")
    subprocess.run([*git, "--no-pager", "diff", "-U1"], check=True)
    pins = ("--pins", str(pins_file))
    code = modelpins(
        *pins, "gate", "--base", "main", "--report", str(Path(".demo") / "gates-blocked.md"), env=env, check=False
    )
    if code != 1:
        raise SystemExit(f"demo: expected the gates to block this promotion (exit 1), got {code}")
    print("(exit 1: the pull request's check fails; the markdown report is in .demo/gates-blocked.md)")
    code = modelpins(*pins, "apply", "--yes", env=env, check=False)
    if code != 1:
        raise SystemExit(f"demo: expected apply to refuse the blocked promotion (exit 1), got {code}")
    print("(exit 1: apply refused; nothing was written)")
    show_aliases(env["MLFLOW_TRACKING_URI"])


ENVIRONMENTS = """version: 1
environments:
  staging:
    namespace: ml-staging
    registry: {{tracking_uri: "{staging}"}}
  production:
    namespace: ml-production
    owners: ["@acme/prod-approvers"]
    registry: {{tracking_uri: "{production}"}}
promotion:
  order: [staging, production]
  soak: {soak}
models:
  fraud-scorer:
    gates:
      champion:
        - kind: threshold
          metric: accuracy
          min: 0.85
    environments:
      staging:
        champion: {champion}
      production:
        champion: {{promote_from: staging@champion}}   # a copy of staging's champion
"""


def across_environments(root: Path, staging_uri: str, env: dict[str, str]) -> None:
    """fraud-scorer promoted from the staging server to a production server of its own; then a staging
    promotion whose production copy the 24 h soak time holds back."""
    from mlflow import MlflowClient

    shutil.rmtree(root / "mlflow-production", ignore_errors=True)
    production = DevServer(root / "mlflow-production").start()
    try:
        print(f"production's MLflow at {production.url}")
        client = MlflowClient(tracking_uri=staging_uri)
        client.create_registered_model("fraud-scorer")
        exp = client.create_experiment("fraud-scorer")
        for n, accuracy in enumerate([0.88, 0.91], start=1):
            rid = client.create_run(exp).info.run_id
            client.log_metric(rid, "accuracy", accuracy)
            client.set_terminated(rid)  # artefacts in the object store both servers read
            client.create_model_version("fraud-scorer", f"s3://acme-models/fraud-scorer/{n}", run_id=rid)
        pins_file = root / "environments.yaml"
        pins_file.write_text(ENVIRONMENTS.format(staging=staging_uri, production=production.url, soak="{}", champion=1))
        print(pins_file.read_text())
        pins = ("--pins", str(pins_file))
        modelpins(*pins, "plan", env=env)
        modelpins(*pins, "apply", "--yes", env=env)
        modelpins(*pins, "lineage", "--environment", "production", "fraud-scorer@champion", env=env)
        print("\n(a pull request promotes staging's champion to version 2, under a 24h soak in staging)")
        pins_file.write_text(
            ENVIRONMENTS.format(staging=staging_uri, production=production.url, soak="{staging: 24h}", champion=2)
        )
        code = modelpins(*pins, "apply", "--yes", env=env, check=False)
        if code != 1:
            raise SystemExit(f"demo: expected the soak time to hold production back (exit 1), got {code}")
        print("(exit 1: staging moved; production keeps its copy until the soak time is over)")
        modelpins(*pins, "history", "--environment", "production", "fraud-scorer@champion", env=env, check=False)
    finally:
        production.stop()


def lifecycle(env: dict[str, str]) -> None:
    """Lineage of the served adapter; then someone moves champion by hand and drift reports it."""
    modelpins("lineage", "support-assistant-lora@champion", env=env)
    from mlflow import MlflowClient

    print("\n(someone points credit-risk-classifier@champion back at version 2 in the MLflow UI)")
    MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"]).set_registered_model_alias(
        "credit-risk-classifier", "champion", "2"
    )
    code = modelpins("drift", env=env, check=False)
    if code != 1:
        raise SystemExit(f"demo: expected drift to be reported (exit 1), got {code}")
    print("(exit 1: the scheduled drift check fails; `modelpins drift --fix apply --yes` restores git's state)")
    modelpins("drift", "--fix", "apply", "--yes", env=env)
