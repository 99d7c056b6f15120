"""drift against the real MLflow server after a manual alias change."""

from __future__ import annotations

import json

from tests.helpers.cli import run
from tests.helpers.seed import alias_state, audit, seed_model, unique
from tests.lifecycle.conftest import pins_text


def test_drift_after_manual_change_then_fix_apply(repo, client, proxy, tmp_path):
    model = unique("drift")
    seed_model(client, model, 4, {"champion": 2, "challenger": 3})
    repo.commit(pins_text(model, 2), "Pin")

    clean = run("--tracking-uri", proxy.url, "drift", cwd=repo.root)
    assert clean.returncode == 0, clean.stderr
    assert "No drift" in clean.stdout

    client.set_registered_model_alias(model, "champion", "1")  # by hand, in the UI
    client.set_registered_model_alias(model, "shadow", "4")
    proxy.reset()
    summary = tmp_path / "summary.md"
    found = run("--tracking-uri", proxy.url, "drift", "--json", "--markdown", summary, cwd=repo.root)

    assert found.returncode == 1
    assert json.loads(found.stdout)["drift"] == [
        {"model": model, "alias": "champion", "expected": 2, "actual": 1},
        {"model": model, "alias": "shadow", "expected": None, "actual": 4},
    ]
    assert [p for m, p in proxy.log] == ["/api/2.0/mlflow/registered-models/search"]
    assert f"| `{model}` | `champion` | 2 | 1 | moved |" in summary.read_text()

    refused = run("--tracking-uri", proxy.url, "drift", "--fix", "apply", cwd=repo.root)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert alias_state(client, [model])[model]["champion"] == 1

    fixed = run("--tracking-uri", proxy.url, "drift", "--fix", "apply", "--yes", cwd=repo.root)
    assert fixed.returncode == 0, fixed.stderr
    assert alias_state(client, [model]) == {model: {"champion": 2, "challenger": 3}}
    record = audit(client, model, 2)
    assert record["reason"] == "drift-fix" and record["from"] == 1
    assert run("--tracking-uri", proxy.url, "drift", cwd=repo.root).returncode == 0


def test_drift_fix_file_writes_registry_state_as_line_edits(repo, client, mlflow_server):
    model = unique("drift-file")
    seed_model(client, model, 4, {"champion": 2, "challenger": 3})
    repo.commit(pins_text(model, 2), "Pin")
    client.set_registered_model_alias(model, "champion", "4")

    result = run("--tracking-uri", mlflow_server.url, "drift", "--fix", "file", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    assert repo.pins.read_text() == pins_text(model, 4)
    assert run("--tracking-uri", mlflow_server.url, "drift", cwd=repo.root).returncode == 0


def test_drift_against_a_ref(repo, client, mlflow_server):
    model = unique("drift-ref")
    seed_model(client, model, 4, {"champion": 2, "challenger": 3})
    repo.commit(pins_text(model, 2), "Pin")
    repo.pins.write_text(pins_text(model, 4))  # an unmerged edit in the working copy

    on_main = run("--tracking-uri", mlflow_server.url, "drift", "--ref", "main", cwd=repo.root)
    working = run("--tracking-uri", mlflow_server.url, "drift", cwd=repo.root)

    assert on_main.returncode == 0, on_main.stderr
    assert working.returncode == 1
    assert f"{model}  champion  4         2" in working.stdout
    assert run("--tracking-uri", mlflow_server.url, "drift", "--ref", "nope", cwd=repo.root).returncode == 2
