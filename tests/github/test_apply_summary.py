"""After merge: when apply stops half-way, the job summary says what was and was not applied."""

from __future__ import annotations

from tests.helpers.cli import run
from tests.helpers.proxy import Fault
from tests.helpers.seed import alias_state, seed_model, unique, write_pins


def test_partial_apply_summary_lists_applied_failed_and_pending(client, proxy, tmp_path):
    model = unique("partial")
    seed_model(client, model, 3, {"champion": 1, "old-a": 1, "old-b": 2})
    pins = write_pins(tmp_path / "model_pins.yaml", {model: {"champion": 2}})
    proxy.faults.append(Fault(status=400, match="DELETE /api/2.0/mlflow/registered-models/alias"))
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "MODELPINS_HTTP_RETRIES": "0"}

    # one change at a time, so which delete meets the fault is known
    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", "1", env=env)

    assert result.returncode == 1
    assert alias_state(client, [model]) == {model: {"champion": 2, "old-a": 1, "old-b": 2}}
    text = summary.read_text()
    assert "### modelpins apply: ❌ stopped: 1 of 3 changes applied, 1 failed" in text
    assert f"| ✅ applied | `{model}` | `champion` | 1 | 2 |" in text
    assert f"| ❌ failed | `{model}` | `old-a` | 1 | – |" in text
    assert f"| ⏸️ not started | `{model}` | `old-b` | 2 | – |" in text
    assert f"pending  {model}@old-b: 2 -> -" in result.stderr
    assert "::error::applied 1 of 3 changes, then stopped" in result.stdout

    # What the workflow's follow-up step shows: the registry against the file, i.e. what is left.
    left = run("--pins", pins, "--tracking-uri", proxy.url, "plan", "--summary", env=env)
    assert left.returncode == 0
    assert f"| delete | `{model}` | `old-a` | 1 | – | `" in summary.read_text()


def test_successful_apply_summary(client, mlflow_server, tmp_path):
    model = unique("applied")
    seed_model(client, model, 2, {"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {model: {"champion": 2}})
    summary = tmp_path / "summary.md"
    result = run(
        "--pins", pins, "--tracking-uri", mlflow_server.url, "apply", "--yes",
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "### modelpins apply: ✅ 1 change applied" in summary.read_text()
