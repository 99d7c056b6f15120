"""`modelpins drift --cluster` against an in-memory Kubernetes API (kmock's emulator) and the real MLflow server.

No kube-apiserver can run on this machine. The cluster is kmock's emulator, reached over
real HTTP by the real `kubernetes` client; `modelpins rollout` puts the rendered objects
there, and the tests then change them by hand the way `kubectl patch` / `kubectl delete` would.

What this proves: drift reads the live objects at the right API paths and names exactly
what differs from the rendered manifests (Deployment image, model version, a missing
Deployment, HTTPRoute weights, the blue-green Service selector), exits 1 on drift and 0
when the cluster matches, and tells an unreachable cluster from a missing configuration.

What it does not prove: how a real API server defaults or rewrites these objects (the
comparison reads only fields a real server keeps as applied, and treats an omitted
HTTPRoute weight as Gateway API's default of 1, but only the kind workflow in
.github/workflows/e2e-kind.yml runs against a real API server), or anything about pods:
the emulator runs no controllers, so what the pods themselves run is not read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devkit.devserver import free_port
from tests.helpers.cli import run
from tests.helpers.kube import KubeEmulator
from tests.helpers.seed import seed_model, unique

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENTS = "/apis/apps/v1/namespaces/ml-prod/deployments"
ROUTE = "/apis/gateway.networking.k8s.io/v1/namespaces/ml-prod/httproutes/scoring"


def pins_text(model: str, strategy: str) -> str:
    return f"""version: 1
models:
  {model}:
    aliases: {{champion: 3, challenger: 4}}
images:
  registry: registry.example/serving
  base: vllm/vllm-openai@sha256:1d6866b87630d94f5e0cdae55ab5abb4ce0b03fcb84d9d10612f9d518d19d4fd
  classic: registry.example/serving/mlflow-serve@sha256:1111111111111111111111111111111111111111111111111111111111111111
environments:
  prod:
    namespace: ml-prod
    gateway: gateways/public
    tracking_uri: http://mlflow.ml-prod:5000
deployments:
  scoring:
    environment: prod
    serve: [{model}@champion]
    replicas: 2
    strategy: {strategy}
"""


CANARY = "{type: canary, candidate: [MODEL@challenger], weight: 10}"
BLUE_GREEN = "{type: blue-green, candidate: [MODEL@challenger], active: blue}"


@pytest.fixture(scope="module")
def model(client) -> str:
    name = unique("served")
    seed_model(client, name, 4, {"champion": 3, "challenger": 4})
    return name


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    emulator = KubeEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def project(tmp_path: Path, kube: KubeEmulator, model: str, mlflow_server) -> tuple[Path, dict[str, str]]:
    (tmp_path / "deploy").mkdir()
    shutil.copy(REPO / "deploy" / "Dockerfile", tmp_path / "deploy" / "Dockerfile")
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(pins_text(model, CANARY.replace("MODEL", model)))
    env = {"KUBECONFIG": str(kube.kubeconfig(tmp_path / "kubeconfig")), "MLFLOW_TRACKING_URI": mlflow_server.url}
    rolled = run("--pins", pins, "rollout", env=env)
    assert rolled.returncode == 0, rolled.stderr
    return pins, env


def patch(kube: KubeEmulator, path: str, body: dict[str, Any]) -> None:
    """A JSON merge patch, as `kubectl patch --type merge` sends it (lists are replaced whole)."""
    resp = requests.patch(
        kube.url + path, json=body, headers={"Content-Type": "application/merge-patch+json"}, timeout=10
    )
    assert resp.status_code == 200, resp.text


def drift_json(pins: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    result = run("--pins", pins, "drift", "--cluster", "--json", *args, env=env)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_a_cluster_that_matches_the_pins_is_no_drift(project) -> None:
    pins, env = project

    result = run("--pins", pins, "drift", "--cluster", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No served drift: the cluster at http://" in result.stdout
    assert f"matches {pins}." in result.stdout
    assert drift_json(pins, env) == (0, {"drift": [], "served": []})


def test_image_model_path_and_version_changed_by_hand_are_reported_exactly(project, kube, model, tmp_path) -> None:
    pins, env = project
    live = kube.get(f"{DEPLOYMENTS}/scoring-stable")
    assert live is not None
    rendered_image = live["spec"]["template"]["spec"]["containers"][0]["image"]
    containers = live["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = "registry.example/serving/hotfix:1"
    args = containers[0]["args"]
    args[args.index("-m") + 1] = f"/models/{model}/4"  # mlflow models serve -m MODEL_DIR ...
    patch(
        kube,
        f"{DEPLOYMENTS}/scoring-stable",
        {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"modelpins.io/version": "4"}},
                    "spec": {"containers": containers},
                }
            }
        },
    )
    summary = tmp_path / "summary.md"

    code, out = drift_json(pins, env, "--markdown", str(summary))
    text = run("--pins", pins, "drift", "--cluster", env=env)

    assert code == 1
    assert out["drift"] == []
    row = {"environment": "prod", "namespace": "ml-prod", "kind": "Deployment", "name": "scoring-stable"}
    assert out["served"] == [
        {**row, "deployment": "scoring", "field": "image", "expected": rendered_image,
         "actual": "registry.example/serving/hotfix:1"},
        {**row, "deployment": "scoring", "field": "args", "expected": f"... -m /models/{model}/3 ...",
         "actual": f"... -m /models/{model}/4 ..."},
        {**row, "deployment": "scoring", "field": "version", "expected": "3", "actual": "4"},
    ]  # fmt: skip
    assert text.returncode == 1
    lines = text.stdout.splitlines()
    assert any(ln.split() == ["prod", "deployment/scoring-stable", "version", "3", "4", "changed"] for ln in lines)
    assert "3 served differences: the cluster at" in text.stdout
    assert "No registry drift" in text.stdout
    assert "| prod | `ml-prod/deployment/scoring-stable` | version | `3` | `4` | changed |" in summary.read_text()


def test_a_deleted_deployment_and_moved_weights_are_drift(project, kube) -> None:
    pins, env = project
    assert requests.delete(f"{kube.url}{DEPLOYMENTS}/scoring-candidate", timeout=10).status_code == 200
    route = kube.get(ROUTE)
    assert route is not None
    rules = route["spec"]["rules"]
    rules[0]["backendRefs"][0]["weight"], rules[0]["backendRefs"][1]["weight"] = 50, 50
    patch(kube, ROUTE, {"spec": {"rules": rules}})

    code, out = drift_json(pins, env)

    assert code == 1
    assert [(d["kind"], d["name"], d["field"], d["expected"], d["actual"]) for d in out["served"]] == [
        ("Deployment", "scoring-candidate", "object", "present", None),
        ("HTTPRoute", "scoring", "backends", "scoring-stable=90 scoring-candidate=10",
         "scoring-stable=50 scoring-candidate=50"),
    ]  # fmt: skip
    text = run("--pins", pins, "drift", "--cluster", env=env).stdout
    assert any(ln.split()[:3] == ["prod", "deployment/scoring-candidate", "object"] for ln in text.splitlines())
    assert "missing in cluster" in text


def test_blue_green_service_pointing_at_the_other_colour(tmp_path, kube, model, mlflow_server) -> None:
    (tmp_path / "deploy").mkdir()
    shutil.copy(REPO / "deploy" / "Dockerfile", tmp_path / "deploy" / "Dockerfile")
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(pins_text(model, BLUE_GREEN.replace("MODEL", model)))
    env = {"KUBECONFIG": str(kube.kubeconfig(tmp_path / "kubeconfig")), "MLFLOW_TRACKING_URI": mlflow_server.url}
    assert run("--pins", pins, "rollout", env=env).returncode == 0
    assert drift_json(pins, env)[0] == 0
    patch(kube, "/api/v1/namespaces/ml-prod/services/scoring", {"spec": {"selector": {"modelpins.io/color": "green"}}})

    code, out = drift_json(pins, env, "-e", "prod")

    assert code == 1
    assert [(d["name"], d["field"], d["expected"], d["actual"]) for d in out["served"]] == [
        ("scoring", "selector", "modelpins.io/color=blue", "modelpins.io/color=green")
    ]


def test_registry_and_served_drift_are_reported_together(project, kube, client, model) -> None:
    pins, env = project
    client.set_registered_model_alias(model, "challenger", "2")  # by hand, in the UI
    try:
        code, out = drift_json(pins, env)
    finally:
        client.set_registered_model_alias(model, "challenger", "4")

    assert code == 1
    assert out == {"drift": [{"model": model, "alias": "challenger", "expected": 4, "actual": 2}], "served": []}


def test_unreachable_cluster_fails_and_missing_configuration_is_invalid_input(project, tmp_path) -> None:
    pins, env = project
    closed = KubeEmulator(url=f"http://127.0.0.1:{free_port()}").kubeconfig(tmp_path / "closed")  # nothing listens

    down = run("--pins", pins, "drift", "--cluster", env={**env, "KUBECONFIG": str(closed)})
    missing = run("--pins", pins, "drift", "--cluster", env={**env, "KUBECONFIG": str(tmp_path / "none")})

    assert down.returncode == 1, down.stdout + down.stderr
    assert "cannot reach the Kubernetes API" in down.stderr
    assert missing.returncode == 2
    assert "KUBECONFIG" in missing.stderr and "--context" in missing.stderr


def test_without_cluster_drift_never_imports_kubernetes(project) -> None:
    pins, env = project
    code = (
        "import sys\n"
        "from modelpins.cli import main\n"
        f"rc = main(['--tracking-uri', {env['MLFLOW_TRACKING_URI']!r}, '--pins', {str(pins)!r}, 'drift'])\n"
        "print('rc:', rc, 'kubernetes:', 'kubernetes' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})

    assert "rc: 0 kubernetes: False" in out.stdout, out.stdout + out.stderr


def test_a_managed_deployment_that_is_no_longer_rendered_is_drift(project, kube) -> None:
    pins, env = project
    left_over = kube.get(f"{DEPLOYMENTS}/scoring-candidate")
    assert left_over is not None
    left_over["metadata"] = {**left_over["metadata"], "name": "scoring-old", "resourceVersion": None}
    foreign = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "notebook"}, "spec": {}}
    for obj in (left_over, foreign):
        assert requests.post(f"{kube.url}{DEPLOYMENTS}", json=obj, timeout=10).status_code in (200, 201)

    code, out = drift_json(pins, env)
    text = run("--pins", pins, "drift", "--cluster", env=env).stdout

    assert code == 1
    assert [(d["kind"], d["name"], d["field"], d["expected"], d["actual"]) for d in out["served"]] == [
        ("Deployment", "scoring-old", "object", None, "present")  # not the notebook: modelpins does not manage it
    ]
    assert "not rendered" in text


def test_drift_at_a_ref_renders_the_pins_of_that_ref(project, model) -> None:
    pins, env = project
    root = pins.parent
    identity = ["-c", "user.email=dev@example.com", "-c", "user.name=Dev", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q", "-b", "main"], ["add", "."], [*identity, "commit", "-qm", "Pin and deploy"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    pins.write_text(pins.read_text().replace("champion: 3", "champion: 4"))  # an unmerged edit, not rolled out

    at_main = drift_json(pins, env, "--ref", "main")
    working = drift_json(pins, env)

    assert at_main == (0, {"drift": [], "served": []})
    assert working[0] == 1
    assert ("scoring-stable", "version", "4", "3") in [
        (d["name"], d["field"], d["expected"], d["actual"]) for d in working[1]["served"]
    ]
