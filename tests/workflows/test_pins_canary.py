"""pins-canary.yml under act on its schedule: by default a healthy canary's weight move is proposed as a pull
request (main untouched), and a second run at the same step opens no second one; with the variable
MODELPINS_CANARY_COMMIT=true the move is committed and pushed to main.

Prometheus is the real one of tests/canary (Debian's, loopback), scraping the stand-in of vLLM's /metrics.
The pull requests go to the GitHub REST stand-in (tests/helpers/github_stub.py): no GitHub here, so branch
protection, which would refuse a push to main, is not enforced by anything in these runs.
"""

from __future__ import annotations

import re

from mlflow import MlflowClient

from devkit.canary_metrics import Traffic
from modelpins.audit import canary as audit_canary
from tests.canary.conftest import prometheus, serve, settle, standin  # noqa: F401 (the fixtures)
from tests.canary.pins import pins_text
from tests.helpers.seed import seed_model, unique
from tests.workflows.conftest import git

EVENT = {"schedule": "*/15 * * * *", "repository": {"full_name": "acme/models", "default_branch": "main"}}


def canary_repo(flow, client, mlflow_server, prometheus, standin) -> tuple[str, str, str]:  # noqa: F811
    """A canary at 10% on main with healthy traffic on both tracks; the model, deployment and the step's commit."""
    model, dep = unique("wf-chat"), unique("wf-assistant")
    seed_model(client, model, 2, {"champion": 1, "challenger": 2})
    serve(standin, dep, Traffic(rps=50), Traffic(rps=50))
    step = flow.commit("canary at 10%", {"model_pins.yaml": pins_text(model, dep)})
    git(flow.root, "config", "receive.denyCurrentBranch", "updateInstead")  # the job pushes to this "origin"
    flow.secrets = {"MLFLOW_TRACKING_URI": mlflow_server.url, "MLFLOW_TRACKING_TOKEN": "tag-token"}
    flow.variables = {"MODELPINS_PROMETHEUS_URL": prometheus.url}
    settle()
    return model, dep, step


def test_the_scheduled_run_proposes_a_passed_step_as_one_pull_request_and_leaves_main_alone(
    flow,
    client,
    mlflow_server,
    prometheus,  # noqa: F811 (the imported fixtures)
    standin,  # noqa: F811 (the imported fixtures)
):
    model, dep, step = canary_repo(flow, client, mlflow_server, prometheus, standin)

    run = flow.act("schedule", "pins-canary.yml", "advance", EVENT)

    assert run.returncode == 0, run.log[-3000:]
    assert git(flow.root, "rev-parse", "main") == step  # nothing pushed to main
    assert "weight: 10" in (flow.root / "model_pins.yaml").read_text()
    (pull,) = flow.github.pulls
    branch = pull["head"]["ref"]
    # named after the commit that set the weight line (git blame: here possibly an older commit of the same line)
    assert re.fullmatch(rf"canary/{dep}-advance-10-to-50-[0-9a-f]{{12}}", branch) and pull["base"]["ref"] == "main"
    assert pull["title"] == f"Canary {dep}: 10% -> 50% on live evidence"
    diff = git(flow.root, "diff", "-U0", "main", branch, "--", "model_pins.yaml")
    assert "-      weight: 10\n+      weight: 50" in diff  # the one-line move, pushed for review
    [record] = audit_canary.records(MlflowClient(mlflow_server.url).get_model_version(model, "2").tags, dep)
    assert (record["action"], record["weight"], record["to_weight"]) == ("advance", 10, 50)
    assert record["actor"] == "pins / canary"

    again = flow.act("schedule", "pins-canary.yml", "advance", EVENT)  # the next run, same step, pull request open

    assert again.returncode == 0, again.log[-3000:]
    assert f"already proposed on branch '{branch}'" in again.log
    assert len(flow.github.pulls) == 1
    assert git(flow.root, "for-each-ref", "--format=%(refname:short)", "refs/heads/canary") == branch
    assert git(flow.root, "rev-parse", "main") == step


def test_with_the_commit_variable_the_scheduled_run_commits_a_passed_step_to_main(
    flow,
    client,
    mlflow_server,
    prometheus,  # noqa: F811 (the imported fixtures)
    standin,  # noqa: F811 (the imported fixtures)
):
    model, dep, _ = canary_repo(flow, client, mlflow_server, prometheus, standin)
    flow.variables["MODELPINS_CANARY_COMMIT"] = "true"

    run = flow.act("schedule", "pins-canary.yml", "advance", EVENT)

    assert run.returncode == 0, run.log[-3000:]
    assert "weight: 50" in (flow.root / "model_pins.yaml").read_text()  # pushed to main
    subject = git(flow.root, "log", "-1", "--format=%s")
    assert subject == f"Canary {dep}: 10% -> 50% on live evidence"
    assert flow.github.pulls == []
    [record] = audit_canary.records(MlflowClient(mlflow_server.url).get_model_version(model, "2").tags, dep)
    assert (record["action"], record["weight"], record["to_weight"]) == ("advance", 10, 50)
