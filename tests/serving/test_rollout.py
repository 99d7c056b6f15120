"""`modelpins rollout` against an in-memory Kubernetes API (kmock's emulator), through the real `kubernetes` client.

What this proves: the objects render produces are applied to the right API paths, rollout
waits on Deployment status, and on a failed or timed-out rollout every object goes back to
what was live before (new ones are deleted); after a success, managed objects no longer
rendered are pruned and nothing else is.

What it does not prove: that a real API server accepts these objects (admission, schema,
server-side apply field ownership and conflicts: kubernetes-validate in CI and the kind
workflow in .github/workflows/e2e-kind.yml cover that), or that pods start: Deployment
status is written by a stand-in controller following the behaviour each test picks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers.cli import run
from tests.helpers.kube import Controller, KubeEmulator, crashing, healthy

REPO = Path(__file__).resolve().parents[2]
PINS = """version: 1
models:
  scorer:
    aliases: {champion: 3, challenger: 4}
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
    serve: [scorer@champion]
    replicas: 2
"""
CANARY = """    strategy: {type: canary, candidate: [scorer@challenger], weight: 10}
"""


@pytest.fixture
def kube() -> Iterator[KubeEmulator]:
    emulator = KubeEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def controller(kube: KubeEmulator) -> Iterator[Controller]:
    ctl = Controller(kube, healthy).start()
    yield ctl
    ctl.stop()


@pytest.fixture
def project(tmp_path: Path, kube: KubeEmulator) -> tuple[Path, dict[str, str]]:
    (tmp_path / "deploy").mkdir()
    shutil.copy(REPO / "deploy" / "Dockerfile", tmp_path / "deploy" / "Dockerfile")
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(PINS)
    return pins, {"KUBECONFIG": str(kube.kubeconfig(tmp_path / "kubeconfig"))}


def deployment(kube: KubeEmulator, name: str) -> dict | None:
    return kube.get(f"/apis/apps/v1/namespaces/ml-prod/deployments/{name}")


def version_of(dep: dict | None) -> str:
    assert dep is not None, "no such Deployment"
    return str(dep["metadata"]["annotations"]["modelpins.io/version"])


def test_rollout_applies_every_object_and_waits_until_ready(project, kube, controller) -> None:
    pins, env = project
    pins.write_text(PINS + CANARY)

    result = run("--pins", pins, "rollout", "--wait", "--timeout", "30", env=env)

    assert result.returncode == 0, result.stderr
    assert "ready    Deployment ml-prod/scoring-stable" in result.stdout
    assert "ready    Deployment ml-prod/scoring-candidate" in result.stdout
    assert kube.get("/api/v1/namespaces/ml-prod") is not None
    assert version_of(deployment(kube, "scoring-stable")) == "3"
    assert version_of(deployment(kube, "scoring-candidate")) == "4"
    route = kube.get("/apis/gateway.networking.k8s.io/v1/namespaces/ml-prod/httproutes/scoring")
    assert route is not None
    assert [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]] == [90, 10]
    assert kube.get("/api/v1/namespaces/ml-prod/services/scoring")["spec"]["selector"] == {
        "app.kubernetes.io/name": "scoring",
        "app.kubernetes.io/instance": "scoring-stable",
    }


def test_failing_rollout_rolls_back_to_the_previous_manifests(project, kube, controller) -> None:
    pins, env = project
    assert run("--pins", pins, "rollout", "--wait", "--timeout", "30", env=env).returncode == 0
    assert version_of(deployment(kube, "scoring")) == "3"
    # Version 4 never becomes ready: the deployment controller reports ProgressDeadlineExceeded.
    controller.behaviour = lambda d: crashing(d) if version_of(d) == "4" else healthy(d)
    pins.write_text(PINS.replace("champion: 3", "champion: 4") + "    strategy: {type: rolling}\n")

    result = run("--pins", pins, "rollout", "--wait", "--timeout", "60", env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "timed out progressing" in result.stderr
    assert "Rolled back" in result.stderr
    restored = deployment(kube, "scoring")
    assert version_of(restored) == "3"
    assert "/models/scorer/3" in restored["spec"]["template"]["spec"]["containers"][0]["args"]  # type: ignore[index]


def test_rollout_that_times_out_rolls_back_and_deletes_what_it_created(project, kube, controller) -> None:
    pins, env = project
    assert run("--pins", pins, "rollout", "--wait", "--timeout", "30", env=env).returncode == 0
    # The candidate's pods never report anything (e.g. stuck pulling a 15 GB image).
    controller.behaviour = lambda d: None if version_of(d) == "4" else healthy(d)
    pins.write_text(PINS + CANARY)

    result = run("--pins", pins, "rollout", "--wait", "--timeout", "2", env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "not ready after 2s" in result.stderr
    assert "scoring-candidate" in result.stderr
    assert deployment(kube, "scoring-candidate") is None
    assert kube.get("/apis/gateway.networking.k8s.io/v1/namespaces/ml-prod/httproutes/scoring") is not None
    assert version_of(deployment(kube, "scoring")) == "3"


def test_rollout_without_a_cluster_configuration_is_invalid_input(project, tmp_path) -> None:
    pins, _ = project

    result = run("--pins", pins, "rollout", env={"KUBECONFIG": str(tmp_path / "missing")})

    assert result.returncode == 2
    assert "KUBECONFIG" in result.stderr


def test_successful_rollout_prunes_what_is_no_longer_rendered_and_nothing_else(project, kube, controller) -> None:
    pins, env = project
    assert run("--pins", pins, "rollout", "--wait", "--timeout", "30", env=env).returncode == 0
    meta = {"name": "notebook", "namespace": "ml-prod"}
    foreign = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {"replicas": 1}}
    requests.post(f"{kube.url}/apis/apps/v1/namespaces/ml-prod/deployments", json=foreign, timeout=10)
    pins.write_text(PINS + CANARY)

    kept = run("--pins", pins, "rollout", "--wait", "--timeout", "30", "--no-prune", env=env)
    assert kept.returncode == 0, kept.stderr
    assert deployment(kube, "scoring") is not None

    result = run("--pins", pins, "rollout", "--wait", "--timeout", "30", env=env)

    assert result.returncode == 0, result.stderr
    assert "pruned   Deployment ml-prod/scoring " in result.stdout
    assert deployment(kube, "scoring") is None
    assert kube.get("/apis/policy/v1/namespaces/ml-prod/poddisruptionbudgets/scoring") is None
    assert kube.get("/api/v1/namespaces/ml-prod/services/scoring") is not None  # still the entry point
    assert deployment(kube, "scoring-candidate") is not None
    assert deployment(kube, "notebook") is not None  # not managed by modelpins
