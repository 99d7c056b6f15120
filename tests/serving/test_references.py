"""A fresh cluster syncs: every object a rendered pod or route refers to is rendered in the same namespace, or is
a prerequisite the serving guide (docs/how-to/serve-llm.md) lists (credentials, and the Gateway the platform runs).

Walks `kubectl kustomize manifests/<env>` (what Argo CD and Flux apply) for the repository's manifests and the
every-strategy render: ConfigMaps, Secrets, ServiceAccounts and PersistentVolumeClaims that pods reference
(envFrom, env valueFrom, volumes, projected volumes, imagePullSecrets, serviceAccountName) and the Gateways
HTTPRoutes attach to.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelpins import pins as pinsmod
from tests.helpers.cli import run

HERE = Path(__file__).parent
REPO = HERE.parents[1]
GUIDE = (REPO / "docs" / "how-to" / "serve-llm.md").read_text()
RULES = (REPO / "docs" / "reference" / "serving-rules.md").read_text()
BUILT_IN = {("ServiceAccount", "default")}  # Kubernetes creates it in every namespace

pytestmark = pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl (kustomize) is not installed")


def prerequisites() -> set[tuple[str, str]]:
    """(kind, name) rows of the prerequisites tables (the serving guide's, and docs/reference/serving-rules.md's):
    `| Secret | `modelpins-mlflow` | ...`."""
    out = set()
    for text in (GUIDE, RULES):
        section = re.split(r"\n#+ Prerequisites", text, maxsplit=1)[1].split("\n#", 1)[0]
        out |= {(m[1], m[2]) for m in re.finditer(r"^\| (\w+) \| `([^`]+)`", section, re.MULTILINE)}
    return out


def references(obj: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(kind, name, where) of each object `obj` needs to exist in its namespace."""
    name = f"{obj['kind']}/{obj['metadata']['name']}"
    if obj["kind"] == "HTTPRoute":
        for parent in obj["spec"]["parentRefs"]:
            yield "Gateway", f"{parent.get('namespace', obj['metadata']['namespace'])}/{parent['name']}", name
        return
    if obj["kind"] != "Deployment":
        return
    pod = obj["spec"]["template"]["spec"]
    yield "ServiceAccount", pod.get("serviceAccountName", "default"), f"{name} serviceAccountName"
    for ref in pod.get("imagePullSecrets", []):
        yield "Secret", ref["name"], f"{name} imagePullSecrets"
    for vol in pod.get("volumes", []):
        where = f"{name} volume {vol['name']}"
        if "configMap" in vol:
            yield "ConfigMap", vol["configMap"]["name"], where
        if "secret" in vol:
            yield "Secret", vol["secret"]["secretName"], where
        if "persistentVolumeClaim" in vol:
            yield "PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"], where
        for source in vol.get("projected", {}).get("sources", []):
            if "configMap" in source:
                yield "ConfigMap", source["configMap"]["name"], where
            if "secret" in source:
                yield "Secret", source["secret"]["name"], where
    for c in pod.get("initContainers", []) + pod["containers"]:
        where = f"{name} container {c['name']}"
        for source in c.get("envFrom", []):
            if "configMapRef" in source:
                yield "ConfigMap", source["configMapRef"]["name"], where
            if "secretRef" in source:
                yield "Secret", source["secretRef"]["name"], where
        for env in c.get("env", []):
            ref = env.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                yield "ConfigMap", ref["configMapKeyRef"]["name"], where
            if "secretKeyRef" in ref:
                yield "Secret", ref["secretKeyRef"]["name"], where


def unresolved(overlay: Path, pins_path: Path) -> list[str]:
    built = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    objs = list(yaml.safe_load_all(built.stdout))
    rendered = {(o["kind"], o["metadata"]["name"]) for o in objs}
    listed = prerequisites() | BUILT_IN
    envs = pinsmod.load(pins_path).environments.values()
    if any(kind == "Gateway" for kind, _ in listed):  # the guide's row stands for each environment's gateway
        listed |= {("Gateway", e.gateway) for e in envs if e.gateway}
    if ("Secret", "<pull_secret>") in listed:  # the row stands for each environment's pull_secret
        listed |= {("Secret", e.pull_secret) for e in envs if e.pull_secret}
    if ("ServiceAccount", "<service_account>") in listed:
        listed |= {("ServiceAccount", e.service_account) for e in envs if e.service_account}
    out = []
    for obj in objs:
        for kind, name, where in references(obj):
            if (kind, name) not in rendered and (kind, name) not in listed:
                out.append(f"{where} refers to {kind} {name}: neither rendered nor a listed prerequisite")
    return out


def test_the_readme_lists_prerequisites_and_they_are_credentials_or_the_gateway() -> None:
    assert {kind for kind, _ in prerequisites()} <= {"Secret", "Gateway", "ServiceAccount"}
    assert ("Secret", "modelpins-mlflow") in prerequisites()


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_every_reference_of_the_repository_manifests_is_rendered_or_listed(environment: str) -> None:
    assert unresolved(REPO / "manifests" / environment, REPO / "model_pins.yaml") == []


def test_every_reference_of_the_every_strategy_render_is_rendered_or_listed(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    shutil.copy(REPO / "deploy" / "Dockerfile", tmp_path / "deploy" / "Dockerfile")
    shutil.copy(HERE / "golden" / "model_pins.yaml", tmp_path / "model_pins.yaml")
    assert run("--pins", tmp_path / "model_pins.yaml", "render", "--out", tmp_path / "m").returncode == 0

    assert unresolved(tmp_path / "m" / "prod", tmp_path / "model_pins.yaml") == []


def test_the_every_strategy_render_refers_to_its_pull_secret_and_service_account() -> None:
    pins = pinsmod.load(HERE / "golden" / "model_pins.yaml")
    assert pins.environments["prod"].pull_secret and pins.environments["prod"].service_account
    text = (HERE / "golden" / "rolling.yaml").read_text()
    assert f"imagePullSecrets:\n      - name: {pins.environments['prod'].pull_secret}" in text
    assert f"serviceAccountName: {pins.environments['prod'].service_account}" in text


def test_the_allowed_routes_the_prerequisites_give_admit_every_namespace_routing_to_the_gateway() -> None:
    snippet = RULES.split("allowedRoutes:", 1)[1].split("```", 1)[0]
    allowed = yaml.safe_load("allowedRoutes:" + snippet)["allowedRoutes"]["namespaces"]
    (expr,) = allowed["selector"]["matchExpressions"]
    pins = pinsmod.load(REPO / "model_pins.yaml")
    routed = {e.namespace for e in pins.environments.values() if e.gateway}

    assert allowed["from"] == "Selector" and expr["key"] == "kubernetes.io/metadata.name" and expr["operator"] == "In"
    assert set(expr["values"]) == routed


def test_an_environment_with_init_deployments_and_no_tracking_uri_is_refused(tmp_path: Path) -> None:
    text = (HERE / "golden" / "model_pins.yaml").read_text().replace("    tracking_uri: https://mlflow.example\n", "")
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row == "  prod:")

    result = run("--pins", pins, "validate", "--offline")

    assert result.returncode == 2
    assert f"{pins}:{line}:" in result.stderr and "tracking_uri" in result.stderr


def test_the_rendered_configmap_carries_the_environments_tracking_uri() -> None:
    config = yaml.safe_load((REPO / "manifests" / "production" / "configmap-modelpins-mlflow.yaml").read_text())
    assert config["data"] == {"MLFLOW_TRACKING_URI": "https://mlflow.acme.example"}
