"""plan and apply against the real MLflow server, requests counted at the HTTP level."""

from __future__ import annotations

import json

from tests.helpers.cli import run
from tests.helpers.seed import alias_state, audit, seed_model, unique, write_pins


def test_plan_json_reports_set_move_delete(client, proxy, tmp_path):
    model = unique("credit-risk")
    seed_model(client, model, 4, {"champion": 2, "old": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {model: {"champion": 3, "challenger": 4}})

    result = run("--pins", pins, "--tracking-uri", proxy.url, "plan", "--json")

    assert result.returncode == 0, result.stderr
    changes = json.loads(result.stdout)["changes"]
    assert changes == [
        {"model": model, "alias": "champion", "from": 2, "to": 3, "action": "move"},
        {"model": model, "alias": "challenger", "from": None, "to": 4, "action": "set"},
        {"model": model, "alias": "old", "from": 1, "to": None, "action": "delete"},
    ]
    assert proxy.writes() == []


def test_plan_table_and_unmanaged_models_are_left_alone(client, proxy, tmp_path):
    managed, other = unique("managed"), unique("unmanaged")
    seed_model(client, managed, 2, {"champion": 1})
    seed_model(client, other, 2, {"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {managed: {"champion": 2}})

    plan = run("--pins", pins, "--tracking-uri", proxy.url, "plan")
    assert plan.returncode == 0
    assert f"{managed}  champion  1     2   move" in plan.stdout
    assert other not in plan.stdout

    applied = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert alias_state(client, [managed, other]) == {managed: {"champion": 2}, other: {"champion": 1}}


def test_apply_then_reapply_makes_no_write(client, proxy, tmp_path):
    model = unique("idempotent")
    seed_model(client, model, 4, {"champion": 1, "stale": 2})
    pins = write_pins(tmp_path / "model_pins.yaml", {model: {"champion": 3, "challenger": 4}})

    first = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert first.returncode == 0, first.stderr
    assert alias_state(client, [model]) == {model: {"champion": 3, "challenger": 4}}
    # per change one audit tag and one alias request, plus the apply lock's create and delete
    # (the delete is a compare-and-delete: its guard is created and deleted around it):
    assert len(proxy.writes()) == 6 + 4

    proxy.reset()
    second = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert second.returncode == 0
    assert "No changes" in second.stdout
    assert proxy.writes() == []
    assert len(proxy.reads()) == 2  # the server's version, one page of registered-models/search


def test_apply_leaves_audit_trail_on_target_version(client, proxy, tmp_path):
    model = unique("audited")
    seed_model(client, model, 3, {"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {model: {"champion": 2}})
    env = {
        "GITHUB_ACTOR": "octocat",
        "GITHUB_SHA": "a" * 40,
        "MODELPINS_PR": "17",
        "GITHUB_REPOSITORY": "acme/models",
        "GITHUB_RUN_ID": "99",
        "GITHUB_SERVER_URL": "https://github.com",
    }

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", env=env)

    assert result.returncode == 0, result.stderr
    tag = audit(client, model, 2)
    assert tag["actor"] == "octocat" and tag["commit"] == "a" * 40 and tag["pr"] == "17"
    assert tag["from"] == 1 and tag["to"] == 2 and tag["action"] == "move"
    assert tag["run_url"] == "https://github.com/acme/models/actions/runs/99"
    assert tag["at"].endswith("Z")


def test_dry_run_writes_nothing(client, proxy, tmp_path):
    model = unique("dry")
    seed_model(client, model, 2, {"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {model: {"champion": 2}})
    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--dry-run")
    assert result.returncode == 0 and "Dry run" in result.stdout
    assert proxy.writes() == []
    assert alias_state(client, [model]) == {model: {"champion": 1}}


def test_apply_without_yes_and_no_terminal_refuses(client, proxy, tmp_path):
    model = unique("confirm")
    seed_model(client, model, 2, {"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {model: {"champion": 2}})
    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", input="")
    assert result.returncode == 2 and "--yes" in result.stderr
    assert proxy.writes() == []


def test_server_down_retries_then_exit_1(client, proxy, tmp_path):
    model = unique("flaky")
    seed_model(client, model, 2, {"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {model: {"champion": 2}})
    proxy.faults.append(__import__("tests.helpers.proxy", fromlist=["Fault"]).Fault(status=503))

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", env={"MODELPINS_HTTP_RETRIES": "2"})

    assert result.returncode == 1
    assert "failed 3 times" in result.stderr and "HTTP 503" in result.stderr
    assert len(proxy.log) == 3
    proxy.faults.clear()
    again = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert again.returncode == 0
    assert alias_state(client, [model]) == {model: {"champion": 2}}


def test_no_tracking_uri_is_invalid_input(tmp_path):
    pins = write_pins(tmp_path / "model_pins.yaml", {"m": {"champion": 1}})
    result = run("--pins", pins, "plan", env={"MLFLOW_TRACKING_URI": ""})
    assert result.returncode == 2 and "--tracking-uri" in result.stderr
