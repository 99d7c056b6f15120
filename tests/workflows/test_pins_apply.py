"""pins-apply.yml's `apply` job under act on a push to main: the aliases move in MLflow, the audit
records carry the merge commit and the PR, a second run writes nothing."""

from __future__ import annotations

import contextlib
import json

import pytest
from mlflow.exceptions import MlflowException

from modelpins.audit.head import key
from modelpins.tags import APPLIED_MODEL
from tests.helpers.proxy import Proxy
from tests.helpers.seed import alias_state, seed_model, unique
from tests.workflows.conftest import REPO, Flow, git


@pytest.fixture
def fresh_branch(client) -> None:
    """Each test's repository is a new `acme/models` with a history of its own, while the MLflow server is
    shared by the session: forget what an earlier test's `main` applied (the head-only record), as a
    registry that this repository never applied to would have nothing."""
    with contextlib.suppress(MlflowException):  # no record model yet
        client.delete_registered_model_tag(APPLIED_MODEL, key(f"{REPO}/main"))


def pins_text(model: str, champion: int, challenger: int) -> str:
    return f"""version: 1
owners: ["@acme/ml-platform"]
models:
  {model}:
    owners: ["@alice"]
    aliases:
      champion: {champion}
      challenger: {challenger}
    gates:
      champion:
        - kind: threshold
          metric: accuracy
          min: 0.8
"""


def merge_promotion(flow: Flow, model: str) -> str:
    flow.commit("pins", {"model_pins.yaml": pins_text(model, 1, 2)})
    git(flow.root, "checkout", "-q", "-b", "promote")
    flow.commit("promote", {"model_pins.yaml": pins_text(model, 2, 3)})
    git(flow.root, "checkout", "-q", "main")
    git(flow.root, "merge", "-q", "--no-ff", "-m", "Merge pull request #12 from acme/promote", "promote")
    return git(flow.root, "rev-parse", "HEAD")


def push_event(sha: str) -> dict:
    return {
        "ref": "refs/heads/main",
        "after": sha,
        "deleted": False,  # act takes the run's commit from `after` only then
        "repository": {"full_name": "acme/models", "default_branch": "main"},
    }


def test_merge_applies_with_audit_records_then_nothing(flow, client, mlflow_server, fresh_branch):
    model = unique("wf-apply")
    seed_model(
        client, model, [{"accuracy": 0.82}, {"accuracy": 0.9}, {"accuracy": 0.7}], {"champion": 1, "challenger": 2}
    )
    merge = merge_promotion(flow, model)
    proxy = Proxy(mlflow_server.url).start()
    flow.secrets = {"MLFLOW_TRACKING_URI": proxy.url, "MLFLOW_TRACKING_TOKEN": "write-token-91c2"}
    try:
        run = flow.act("push", "pins-apply.yml", "apply", push_event(merge))
        assert run.returncode == 0, run.log[-4000:]
        assert alias_state(client, [model]) == {model: {"champion": 2, "challenger": 3}}
        records = []
        for version in ("2", "3"):
            tags = client.get_model_version(model, version).tags
            records += [json.loads(v) for k, v in tags.items() if k.startswith("modelpins.audit.")]
        assert {(r["alias"], r["from"], r["to"]) for r in records} == {("champion", 1, 2), ("challenger", 2, 3)}
        assert all(r["commit"] == merge and str(r["pr"]) == "12" for r in records)
        evidence = json.loads(client.get_model_version(model, "2").tags["modelpins.gates.champion"])
        assert evidence["passed"] is True  # the gates ran again at merge, and recorded
        assert "### modelpins apply: ✅ 2 changes applied" in run.summary
        assert f"| ✅ applied | `{model}` | `champion` | 1 | 2 |" in run.summary

        proxy.reset()
        again = flow.act("push", "pins-apply.yml", "apply", push_event(merge))
        assert again.returncode == 0, again.log[-4000:]
        assert [w for w in proxy.writes() if "modelpins.audit" in w[1] or "alias" in w[1]] == []
        assert alias_state(client, [model]) == {model: {"champion": 2, "challenger": 3}}
    finally:
        proxy.stop()


PROTECT_MAIN = """#!/bin/sh
while read old new ref; do
  if [ "$ref" = refs/heads/main ]; then
    echo "error: GH006: Protected branch update failed for refs/heads/main." >&2
    exit 1
  fi
done
exit 0
"""


# An LLM version as MLflow's transformers flavor lays it out (the file contents do not matter to build).
TRANSFORMERS_LAYOUT = {
    "MLmodel": "flavors:\n  transformers: {}\n",
    "model/config.json": "{}",
    "model/model.safetensors": "weights",
    "components/tokenizer/tokenizer.json": "{}",
}


def serving_pins(model: str, base: str, host: str, prod: int, tracking_uri: str) -> str:
    return f"""version: 1
models:
  {model}:
    kind: base
    aliases:
      prod: {prod}
images:
  registry: {host}/serving
  base: {base}
environments:
  staging:
    namespace: ml-stg
    tracking_uri: {tracking_uri}
  production:
    namespace: ml-prod
    tracking_uri: {tracking_uri}
deployments:
  chat:
    environment: production
    serve: [{model}@prod]
"""


def test_merge_builds_renders_and_publishes_each_environment_to_the_deploy_branch(
    flow, client, mlflow_server, base_image, registry, docker_engine, fresh_branch
):
    """The whole pins-apply workflow (apply, build, then one publish job per environment): a real
    dockerd and registry build and hold the runtime image; the manifests land on the deploy branch
    while `main` refuses pushes. The run is started by the commit before the merge, as a re-run of
    an older run is: every job uses the branch head instead, and says so."""
    model = unique("wf-serve")
    seed_model(client, model, 2, {"prod": 1}, files=TRANSFORMERS_LAYOUT)  # build checks the layout first
    older = flow.commit(
        "pins", {"model_pins.yaml": serving_pins(model, base_image, registry.host, 1, mlflow_server.url)}
    )
    git(flow.root, "checkout", "-q", "-b", "promote")
    flow.commit("promote", {"model_pins.yaml": serving_pins(model, base_image, registry.host, 2, mlflow_server.url)})
    git(flow.root, "checkout", "-q", "main")
    git(flow.root, "merge", "-q", "--no-ff", "-m", "Merge pull request #13 from acme/promote", "promote")
    merge = git(flow.root, "rev-parse", "HEAD")
    hook = flow.root / ".git" / "hooks" / "pre-receive"
    hook.write_text(PROTECT_MAIN)
    hook.chmod(0o755)
    flow.secrets = {"MLFLOW_TRACKING_URI": mlflow_server.url, "MLFLOW_TRACKING_TOKEN": "write-token"}
    flow.variables = {"IMAGE_REGISTRY": f"{registry.host}/serving"}
    flow.env = {"DOCKER_HOST": docker_engine.host}

    run = flow.act("push", "pins-apply.yml", "publish", push_event(older))

    assert run.returncode == 0, run.log[-5000:]
    assert alias_state(client, [model]) == {model: {"prod": 2}}  # the apply job ran first, on the head
    stale = f"(this run was started by {older[:12]}, which is no longer the head"
    assert f"Building the images of the head of `main`, `{merge[:12]}` {stale}" in run.log
    for env in ("staging", "production"):
        assert f"Publishing `{env}` from the head of `main`, `{merge[:12]}` {stale}" in run.log
    assert "docker login stand-in: registry=ghcr.io username=" in run.log and "password=given" in run.log
    assert git(flow.root, "rev-parse", "main") == merge  # nothing was pushed to main
    published = git(flow.root, "ls-tree", "-r", "--name-only", "refs/heads/deploy").splitlines()
    assert "deploy/images.lock.json" in published
    assert "manifests/base/chat/deployment-chat.yaml" in published
    assert "manifests/production/kustomization.yaml" in published and "manifests/staging/namespace.yaml" in published
    assert all(p.startswith(("manifests/", "deploy/images.lock.json")) for p in published)
    lock = json.loads(git(flow.root, "show", "refs/heads/deploy:deploy/images.lock.json"))
    runtime = lock["runtime"]
    assert registry.manifest_digest("serving/modelpins-vllm", runtime["tag"]) == runtime["image"].split("@")[1]
    manifest = git(flow.root, "show", "refs/heads/deploy:manifests/base/chat/deployment-chat.yaml")
    assert f"image: {runtime['image']}" in manifest and f"models:/{model}/2" in manifest
    subjects = git(flow.root, "log", "--format=%s", "refs/heads/deploy", "--").splitlines()
    assert sorted(subjects) == [f"Render {env} manifests for {merge[:12]}" for env in ("production", "staging")]
    trailers = git(flow.root, "log", "--format=%b", "refs/heads/deploy", "--").split()
    assert trailers == ["Source-Commit:", merge] * 2  # one commit per environment, each from its own job, from the head
