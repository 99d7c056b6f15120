"""history and rollback on a real git repository and the real MLflow server."""

from __future__ import annotations

import json

from modelpins import pins
from modelpins.gates import waived
from tests.helpers.cli import run
from tests.helpers.seed import audit, seed_model, unique
from tests.lifecycle.conftest import pins_text


def test_history_joins_git_prs_with_audit_tags(repo, client, mlflow_server):
    model = unique("hist")
    seed_model(client, model, 4, {"champion": 1, "challenger": 3})
    repo.commit(pins_text(model, 1), "Pin the classifier")
    env = {"MODELPINS_ACTOR": "release-bot"}
    for number, version in ((11, 2), (12, 4)):
        sha = repo.merge_pr(
            number, f"promote-{version}", pins_text(model, version), f"Promote to {version}", "Reviewed-by: @alice"
        )
        applied = run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root, env=env)
        assert applied.returncode == 0, applied.stderr
        assert audit(client, model, version)["commit"] == sha

    client.set_model_version_tag(model, "4", "modelpins.gates.champion", json.dumps({"result": "passed"}))

    result = run("--tracking-uri", mlflow_server.url, "history", f"{model}@champion", "--json", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    moves = [(t["from"], t["to"], t["pr"]) for t in json.loads(result.stdout)["transitions"]]
    assert moves == [(None, 1, None), (1, 2, "11"), (2, 4, "12")]
    last = json.loads(result.stdout)["transitions"][-1]
    assert last["approved_by"] == ["@alice"]
    assert last["applied"]["actor"] == "release-bot"
    assert last["gates"] == {"result": "passed"}

    table = run("--tracking-uri", mlflow_server.url, "history", model, cwd=repo.root)
    assert table.returncode == 0, table.stderr
    assert f"{model}@champion    2     4" in table.stdout and "#12" in table.stdout and "by release-bot" in table.stdout
    (row,) = [line for line in table.stdout.splitlines() if "#12" in line]
    assert row.endswith("  passed")
    assert f"{model}@challenger" in table.stdout


def test_rollback_is_a_one_line_diff_keeping_comments(repo, client, mlflow_server):
    model = unique("rollback")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")
    repo.merge_pr(5, "promote", pins_text(model, 4), "Promote to 4")
    before = repo.pins.read_text()

    result = run("--tracking-uri", mlflow_server.url, "rollback", f"{model}@champion", "--branch", "rb", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    assert "4 -> 2" in result.stdout
    assert repo.git("branch", "--show-current").strip() == "main"  # the checkout is not moved
    assert repo.pins.read_text() == before
    diff = repo.git("diff", "main", "rb", "--unified=0", "--", "model_pins.yaml").splitlines()
    changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["-      champion: 4     # promoted by PR", "+      champion: 2     # promoted by PR"]
    assert repo.git("show", "rb:model_pins.yaml") == before.replace("champion: 4 ", "champion: 2 ")
    assert "Roll back" in repo.git("log", "-1", "--format=%s", "rb")
    assert repo.git("status", "--porcelain").strip() == ""


def test_rollback_waiver_only_for_a_version_that_served(repo, client, mlflow_server):
    model = unique("waive")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")
    repo.commit(pins_text(model, 4), "Promote")

    never = run("rollback", f"{model}@champion", "--to", "1", "--waive-gates", cwd=repo.root)
    assert never.returncode == 2
    assert "never served" in never.stderr
    assert repo.pins.read_text() == pins_text(model, 4)

    ok = run("rollback", f"{model}@champion", "--waive-gates", "--reason", "p99 latency regression", cwd=repo.root)
    assert ok.returncode == 0, ok.stderr
    p = pins.load(repo.pins)
    assert p.models[model].aliases["champion"].version == 2
    assert waived(p, model, "champion", 2) == "p99 latency regression"
    assert waived(p, model, "champion", 4) is None
    assert waived(p, model, "challenger", 3) is None

    # the next promotion must drop the waiver: a stale one is an error with its line
    stale = repo.pins.read_text().replace("champion: 2 ", "champion: 4 ")
    repo.pins.write_text(stale)
    check = run("validate", "--offline", cwd=repo.root)
    assert check.returncode == 2
    assert "model_pins.yaml:10:" in check.stderr and "remove the waiver" in check.stderr


def test_rollback_without_history_or_unknown_alias_is_invalid_input(repo):
    model = unique("nohist")
    repo.commit(pins_text(model, 2), "Pin")
    text = repo.pins.read_text()

    nothing = run("rollback", f"{model}@champion", cwd=repo.root)
    assert nothing.returncode == 2 and "pass --to VERSION" in nothing.stderr
    unknown = run("rollback", f"{model}@production", "--to", "1", cwd=repo.root)
    assert unknown.returncode == 2 and "has no alias 'production'" in unknown.stderr
    bad_branch = run("rollback", f"{model}@champion", "--to", "1", "--branch", "-x", cwd=repo.root)
    assert bad_branch.returncode == 2
    assert repo.pins.read_text() == text


def test_history_reads_one_models_versions_once_and_skips_broken_commits(repo, client, proxy):
    model, other = unique("hist-cost"), unique("hist-other")
    seed_model(client, model, 3, {"champion": 1, "challenger": 3})
    seed_model(client, other, 2, {"champion": 1})
    repo.commit(pins_text(model, 1), "Pin")
    repo.commit(pins_text(model, 1).replace("champion: 1", "champion: [1"), "Broken edit")
    repo.commit(pins_text(model, 2), "Fix and promote")

    proxy.reset()
    result = run("--tracking-uri", proxy.url, "history", f"{model}@champion", "--json", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [(t["from"], t["to"]) for t in out["transitions"]] == [(None, 1), (1, 2)]
    assert len(out["unreadable"]) == 1 and "invalid YAML" in out["unreadable"][0]
    assert [p for _, p in proxy.log] == ["/api/2.0/mlflow/model-versions/search"]

    offline = run("history", cwd=repo.root)
    assert offline.returncode == 0 and "registry not read" in offline.stderr


def test_rollback_outside_git_uses_the_audit_tag_and_checks_the_registry(client, mlflow_server, tmp_path):
    model = unique("audit-from")
    seed_model(client, model, 3, {"champion": 1, "challenger": 3})
    pins_file = tmp_path / "model_pins.yaml"
    pins_file.write_text(pins_text(model, 2))
    assert run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=tmp_path).returncode == 0

    missing = run("--tracking-uri", mlflow_server.url, "rollback", f"{model}@champion", "--to", "9", cwd=tmp_path)
    assert missing.returncode == 2 and "version 9" in missing.stderr and "does not exist" in missing.stderr
    assert pins_file.read_text() == pins_text(model, 2)

    result = run("--tracking-uri", mlflow_server.url, "rollback", f"{model}@champion", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 -> 1 ('from' of the audit tag on version 2)" in result.stdout
    assert pins_file.read_text() == pins_text(model, 1)
