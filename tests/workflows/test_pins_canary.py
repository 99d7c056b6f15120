"""pins-canary.yml under act on its schedule: a healthy canary's weight move is committed and pushed to main.

Prometheus is the real one of tests/canary (Debian's, loopback), scraping the stand-in of vLLM's /metrics.
"""

from __future__ import annotations

from mlflow import MlflowClient

from devkit.canary_metrics import Traffic
from modelpins.audit import canary as audit_canary
from tests.canary.conftest import prometheus, serve, settle, standin  # noqa: F401 (the fixtures)
from tests.canary.pins import pins_text
from tests.helpers.seed import seed_model, unique
from tests.workflows.conftest import git


def test_the_scheduled_run_commits_a_passed_step_to_main_and_records_it(
    flow,
    client,
    mlflow_server,
    prometheus,  # noqa: F811 (the imported fixtures)
    standin,  # noqa: F811 (the imported fixtures)
):
    model, dep = unique("wf-chat"), unique("wf-assistant")
    seed_model(client, model, 2, {"champion": 1, "challenger": 2})
    serve(standin, dep, Traffic(rps=50), Traffic(rps=50))
    flow.commit("canary at 10%", {"model_pins.yaml": pins_text(model, dep)})
    git(flow.root, "config", "receive.denyCurrentBranch", "updateInstead")  # the job pushes to this "origin"
    flow.secrets = {"MLFLOW_TRACKING_URI": mlflow_server.url, "MLFLOW_TRACKING_TOKEN": "tag-token"}
    flow.variables = {"MODELPINS_PROMETHEUS_URL": prometheus.url}
    settle()

    event = {"schedule": "*/15 * * * *", "repository": {"full_name": "acme/models", "default_branch": "main"}}
    run = flow.act("schedule", "pins-canary.yml", "advance", event)

    assert run.returncode == 0, run.log[-3000:]
    assert "weight: 50" in (flow.root / "model_pins.yaml").read_text()  # pushed to main
    subject = git(flow.root, "log", "-1", "--format=%s")
    assert subject == f"Canary {dep}: 10% -> 50% on live evidence"
    [record] = audit_canary.records(MlflowClient(mlflow_server.url).get_model_version(model, "2").tags, dep)
    assert (record["action"], record["weight"], record["to_weight"]) == ("advance", 10, 50)
    assert record["actor"] == "pins / canary"
