"""The audit trail keeps one record per move, reads the older single-tag records, and says when the file was dirty."""

from __future__ import annotations

import json

from modelpins.audit.records import audit_entries
from tests.helpers.cli import run
from tests.helpers.seed import alias_state, seed_model, unique
from tests.lifecycle.conftest import pins_text


def test_history_shows_every_move_of_three_re_promotions(repo, client, mlflow_server):
    model = unique("repromote")
    seed_model(client, model, 3, {"champion": 1, "challenger": 3})
    repo.commit(pins_text(model, 1), "Pin")
    env = {"MODELPINS_ACTOR": "release-bot"}
    merged = {}
    for number, version in ((2, 2), (3, 3), (4, 2)):  # 1 -> 2, 2 -> 3, 3 -> 2: version 2 is moved to twice
        merged[number] = repo.merge_pr(number, f"promote-{number}", pins_text(model, version), f"Promote to {version}")
        applied = run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root, env=env)
        assert applied.returncode == 0, applied.stderr

    result = run("--tracking-uri", mlflow_server.url, "history", f"{model}@champion", "--json", cwd=repo.root)
    table = run("--tracking-uri", mlflow_server.url, "history", f"{model}@champion", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    moves = [
        (t["from"], t["to"], t["pr"], (t["applied"] or {}).get("commit"))
        for t in json.loads(result.stdout)["transitions"]
    ]
    assert moves[1:] == [(1, 2, "2", merged[2]), (2, 3, "3", merged[3]), (3, 2, "4", merged[4])]
    assert "no audit tag" not in table.stdout.split("\n", 2)[2]  # every PR's move has its record
    on_v2 = audit_entries(client.get_model_version(model, "2").tags, "champion")
    assert [(r["from"], r["pr"]) for _, r in on_v2] == [(1, "2"), (3, "4")]


def test_records_in_the_older_single_tag_format_are_still_read(repo, client, mlflow_server):
    model = unique("oldformat")
    seed_model(client, model, 3, {"champion": 2})
    repo.commit(pins_text(model, 1), "Pin")
    sha = repo.merge_pr(9, "promote", pins_text(model, 2), "Promote to 2")
    old = {"action": "move", "alias": "champion", "from": 1, "to": 2, "actor": "old-bot", "commit": sha,
           "pr": "9", "at": "2026-01-05T10:00:00Z"}  # fmt: skip
    client.set_model_version_tag(model, "2", "modelpins.audit.champion", json.dumps(old))

    result = run("--tracking-uri", mlflow_server.url, "history", f"{model}@champion", "--json", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    last = json.loads(result.stdout)["transitions"][-1]
    assert (last["from"], last["to"], last["applied"]["actor"]) == (1, 2, "old-bot")


def test_dirty_working_copy_is_refused_in_ci_and_recorded_locally(repo, client, mlflow_server):
    model = unique("dirty")
    seed_model(client, model, 3, {"champion": 1, "challenger": 3})
    repo.commit(pins_text(model, 1), "Pin")
    repo.merge_pr(5, "promote", pins_text(model, 2), "Promote to 2")
    repo.pins.write_text(pins_text(model, 3))  # not what PR #5 pinned

    in_ci = run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root, env={"CI": "true"})
    in_actions = run(
        "--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root, env={"GITHUB_ACTIONS": "true"}
    )

    assert in_ci.returncode == in_actions.returncode == 2, in_ci.stderr
    assert "uncommitted changes" in in_ci.stderr and "commit the change first" in in_ci.stderr
    assert alias_state(client, [model]) == {model: {"champion": 1, "challenger": 3}}

    local = run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root)

    assert local.returncode == 0, local.stderr
    ((_, record),) = audit_entries(client.get_model_version(model, "3").tags, "champion")
    assert record["dirty"] is True and "pr" not in record
