"""Applied means applied: a write of a change that fails (the alias, its audit record, a delete) leaves no record
claiming the move, `history` does not show it as applied, and the re-run writes exactly one record per move.

Faults are injected by the project's recording proxy in front of the real MLflow server."""

from __future__ import annotations

import json

import pytest

from modelpins.audit.records import audit_entries
from tests.helpers.cli import run
from tests.helpers.proxy import Fault
from tests.helpers.seed import alias_state, seed_model, unique

ALIAS = "/api/2.0/mlflow/registered-models/alias"
TAG = "/api/2.0/mlflow/model-versions/set-tag"


def pins_text(model: str) -> str:
    return f"""version: 1
models:
  {model}:
    aliases:
      champion: 2
"""


def records(client, model: str) -> list[tuple[str, object, object]]:
    """(alias, from, to) of every audit record on every version of `model`."""
    found: list[tuple[str, object, object]] = []
    for number in ("1", "2", "3"):
        for alias, r in audit_entries(client.get_model_version(model, number).tags):
            found.append((alias, r["from"], r["to"]))
    return sorted(found, key=str)


def applied_in_history(mlflow_server, repo, model: str, alias: str) -> list[int | None]:
    """The versions `history` shows the alias applied to."""
    out = run("--tracking-uri", mlflow_server.url, "history", f"{model}@{alias}", "--json", cwd=repo.root)
    assert out.returncode == 0, out.stderr
    return [t["to"] for t in json.loads(out.stdout)["transitions"] if t["applied"]]


@pytest.mark.parametrize(
    ("fault", "failed"),
    [
        (f"POST {ALIAS}", "champion"),  # the alias write of the move
        (f"POST {TAG}", "champion"),  # the move's audit record
        (f"DELETE {ALIAS}", "retired"),  # the delete
    ],
)
def test_a_failed_write_leaves_no_record_and_the_rerun_adds_one(repo, client, mlflow_server, proxy, fault, failed):
    model = unique("truth")
    seed_model(client, model, 3, {"champion": 1, "retired": 3})
    repo.commit(pins_text(model), "Promote champion to 2, retire 'retired'")
    proxy.faults.append(Fault(status=403, match=fault))
    env = {"MODELPINS_HTTP_RETRIES": "0"}

    result = run("--tracking-uri", proxy.url, "apply", "--yes", "--parallel", "1", cwd=repo.root, env=env)

    assert result.returncode == 1, result.stderr
    assert f"failed   {model}@{failed}" in result.stderr
    state = alias_state(client, [model])[model]
    moved = [("champion", 1, 2)] if failed == "retired" else []
    assert state == ({"champion": 2, "retired": 3} if moved else {"champion": 1, "retired": 3})
    assert records(client, model) == moved  # only what took effect is recorded
    assert applied_in_history(mlflow_server, repo, model, failed) == []

    proxy.faults.clear()
    again = run("--tracking-uri", proxy.url, "apply", "--yes", cwd=repo.root, env=env)

    assert again.returncode == 0, again.stderr
    assert alias_state(client, [model])[model] == {"champion": 2}
    assert records(client, model) == [("champion", 1, 2), ("retired", 3, None)]  # one record per move, no duplicate
    assert applied_in_history(mlflow_server, repo, model, "champion") == [2]


def test_parallel_changes_that_fail_in_flight_are_reported_failed_not_pending(client, proxy, tmp_path):
    from tests.helpers.seed import write_pins

    names = [unique("inflight") for _ in range(6)]
    for name in names:
        seed_model(client, name, 2, {"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {n: {"champion": 2} for n in names})
    proxy.faults.append(Fault(status=400, delay=0.5, match=f"POST {ALIAS}"))  # every alias write: slow, then refused
    summary = tmp_path / "summary.md"
    env = {"MODELPINS_HTTP_RETRIES": "0", "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", "4", env=env)

    assert result.returncode == 1, result.stderr
    sent = sum(1 for m, p in proxy.log if m == "POST" and p == ALIAS)
    assert sent == 4  # four in flight at once, all refused; no fifth started
    assert result.stderr.count("\nfailed   inflight-") == 4
    assert result.stderr.count("\npending  inflight-") == 2
    assert "then stopped: 4 failed, 2 not started" in result.stderr
    text = summary.read_text()
    assert text.count("| ❌ failed |") == 4 and text.count("| ⏸️ not started |") == 2
    assert alias_state(client, names) == {n: {"champion": 1} for n in names}
