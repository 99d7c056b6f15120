"""pins-drift.yml under act on its schedule: an alias moved by hand fails the job, named."""

from __future__ import annotations

import re

from tests.helpers.seed import seed_model, unique


def test_an_alias_moved_by_hand_fails_the_drift_job(flow, client, mlflow_server):
    model = unique("wf-drift")
    seed_model(client, model, 3, {"champion": 2})
    flow.commit("pins", {"model_pins.yaml": f"version: 1\nmodels:\n  {model}:\n    aliases:\n      champion: 2\n"})
    flow.secrets = {"MLFLOW_TRACKING_URI": mlflow_server.url, "MLFLOW_TRACKING_TOKEN": "read-token"}
    event = {"schedule": "17 */6 * * *", "repository": {"full_name": "acme/models", "default_branch": "main"}}

    clean = flow.act("schedule", "pins-drift.yml", "drift", event)
    assert clean.returncode == 0, clean.log[-3000:]

    client.set_registered_model_alias(model, "champion", "3")  # by hand, outside the pins file
    drifted = flow.act("schedule", "pins-drift.yml", "drift", event)

    assert drifted.returncode != 0
    assert re.search(rf"{model}\s+champion\s+2\s+3\s+moved", drifted.log), drifted.log[-3000:]
    assert f"| move | `{model}` | `champion` | 3 | 2 |" in drifted.summary  # what re-applying main would do
