"""`modelpins canary status|advance` for a canary on the Argo Rollouts engine: the Rollout's phase, read through
the Kubernetes API.

No kube-apiserver or Argo Rollouts controller can run here, so the API is the project's stand-in
(tests/helpers/kube.py: kmock's emulator over real HTTP, the real `kubernetes` client) and each test writes the
Rollout's status the way the controller would. The pins file, its git repository and the alias-move branch are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.canary.conftest import NAMESPACE, Repo
from tests.canary.pins import pins_text
from tests.helpers.cli import run
from tests.helpers.kube import KubeEmulator

DEP = "assistant"
ROLLOUTS = f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/rollouts"
STEPS = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeEmulator]:
    emulator = KubeEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def argo_repo(tmp_path: Path, kube: KubeEmulator) -> tuple[Repo, dict[str, str]]:
    repo = Repo(tmp_path / "repo")
    text = pins_text("chat", DEP).replace("      type: canary\n", "      type: canary\n      engine: argo-rollouts\n")
    repo.commit(text, "canary on Argo Rollouts")
    requests.delete(f"{kube.url}{ROLLOUTS}/{DEP}", timeout=10)
    return repo, {"KUBECONFIG": str(kube.kubeconfig(tmp_path / "kubeconfig"))}


def put_rollout(kube: KubeEmulator, status: dict) -> None:
    """The Rollout as the controller leaves it: the rendered spec, generation 2, the status under test."""
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": DEP, "namespace": NAMESPACE, "generation": 2},
        "spec": {"strategy": {"canary": {"steps": STEPS}}},
        "status": status,
    }
    resp = requests.post(f"{kube.url}{ROLLOUTS}", json=rollout, timeout=10)
    assert resp.status_code < 300, resp.text


def canary(repo: Repo, env: dict[str, str], *args: str):
    return run("--pins", repo.pins, "canary", *args, DEP, env=env)


def test_status_shows_the_rollouts_step_and_weight_and_advance_changes_nothing(argo_repo, kube) -> None:
    repo, env = argo_repo
    put_rollout(
        kube,
        {
            "phase": "Paused",
            "message": "CanaryPauseStep",
            "currentStepIndex": 1,
            "observedGeneration": "2",
            "currentPodHash": "7d9f",
            "stableRS": "5c6b",
            "canary": {"weights": {"canary": {"weight": 10}, "stable": {"weight": 90}}},
        },
    )
    status = canary(repo, env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"{DEP}: HOLD at 10%" in status.stdout
    assert f"the Rollout {NAMESPACE}/{DEP} is Paused at step 1/5 (CanaryPauseStep)" in status.stdout

    before = repo.git("rev-parse", "HEAD")
    advanced = canary(repo, env, "advance", "--commit")
    assert advanced.returncode == 0, advanced.stdout + advanced.stderr
    assert repo.git("rev-parse", "HEAD") == before and not repo.git("status", "--porcelain")


def test_a_completed_rollout_makes_advance_propose_the_alias_move(argo_repo, kube) -> None:
    repo, env = argo_repo
    put_rollout(
        kube,
        {
            "phase": "Healthy",
            "currentStepIndex": 5,
            "observedGeneration": "2",
            "currentPodHash": "7d9f",
            "stableRS": "7d9f",
        },
    )
    out = canary(repo, env, "advance", "--commit")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{DEP}: PROMOTE at 100%" in out.stdout
    assert "completed (Healthy on the candidate's pod template)" in out.stdout
    assert repo.git("branch", "--show-current").strip() == "main"
    assert "champion: 1" in repo.pins.read_text()  # main untouched: the alias move is for review
    [branch] = repo.git("branch", "--list", f"canary/{DEP}-promote-*", "--format=%(refname:short)").split()
    diff = repo.git("show", "--format=", "-U0", branch, "--", "model_pins.yaml").splitlines()
    assert [ln for ln in diff if ln[:1] in "+-" and not ln.startswith(("+++", "---"))] == [
        "-      champion: 1",
        "+      champion: 2",
    ]


def test_an_aborted_rollout_holds_and_needs_a_person(argo_repo, kube) -> None:
    repo, env = argo_repo
    put_rollout(
        kube,
        {
            "phase": "Degraded",
            "abort": True,
            "message": "RolloutAborted: metric error-ratio assessed Failed",
            "observedGeneration": "2",
            "currentPodHash": "7d9f",
            "stableRS": "5c6b",
        },
    )
    out = canary(repo, env, "advance", "--commit")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "aborted by Argo Rollouts: the Rollout" in out.stdout
    assert "metric error-ratio assessed Failed" in out.stdout
    assert not repo.git("branch", "--list", "canary/*").strip()


def test_a_rollout_missing_from_the_cluster_holds_and_says_so(argo_repo) -> None:
    repo, env = argo_repo
    out = canary(repo, env, "status")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"no evidence: the Rollout {NAMESPACE}/{DEP} is not in the cluster" in out.stdout
