"""What a rollback is called, from `modelpins rollback` to the board (issue 33), on a real git repository and the
real MLflow server: a rollback made through the command, merged and applied, says "(modelpins rollback)" in
`history` and on the board; a plain edit to an older version says "older than vN"; a forward move to a version the
alias held once before is no rollback. GitHub's merge commit and squash merge are both made here with git."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run
from tests.helpers.seed import audit, seed_model, unique
from tests.lifecycle.conftest import Repo, pins_text
from tests.site.pages import parse, text


def ci(sha: str) -> dict[str, str]:
    """A push run on main for `sha`, as the apply workflow runs it."""
    return {"GITHUB_ACTIONS": "true", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": sha, "MODELPINS_ACTOR": "ci"}


def merge(repo: Repo, number: int, branch: str, how: str) -> str:
    """Merge `branch` into main as GitHub does: a merge commit, or one squashed commit with the PR's message."""
    if how == "merge":
        repo.git("merge", "-q", "--no-ff", "-m", f"Merge pull request #{number} from acme/{branch}", branch)
    else:
        subject, _, body = repo.git("log", "-1", "--format=%B", branch).partition("\n")
        repo.git("merge", "-q", "--squash", branch)
        repo.git("commit", "-qm", f"{subject} (#{number})\n{body}")
    return repo.git("rev-parse", "HEAD").strip()


def apply(repo: Repo, url: str, sha: str) -> None:
    result = run("--tracking-uri", url, "apply", "--yes", cwd=repo.root, env=ci(sha))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("how", ["merge", "squash"])
def test_a_rollback_made_through_the_command_is_named_so_in_history_and_on_the_board(
    repo, client, mlflow_server, tmp_path, how
):
    model = unique("named")
    seed_model(client, model, 4, {"champion": 2, "challenger": 3})
    apply(repo, mlflow_server.url, repo.commit(pins_text(model, 2), "Pin"))
    apply(repo, mlflow_server.url, repo.merge_pr(1, "forward", pins_text(model, 3), "Promote to 3"))  # 2 -> 3

    proposed = run("rollback", f"{model}@champion", "--branch", "rb", cwd=repo.root)  # back to 2
    assert proposed.returncode == 0, proposed.stderr
    apply(repo, mlflow_server.url, merge(repo, 2, "rb", how))  # 3 -> 2, through `rollback`
    apply(repo, mlflow_server.url, repo.merge_pr(3, "again", pins_text(model, 3), "Promote to 3 again"))  # forward
    apply(repo, mlflow_server.url, repo.merge_pr(4, "older", pins_text(model, 1), "Back to 1 by hand"))  # 3 -> 1

    assert audit(client, model, 2)["rollback"] is True
    assert "rollback" not in audit(client, model, 3) and "rollback" not in audit(client, model, 1)

    shown = run("--tracking-uri", mlflow_server.url, "history", f"{model}@champion", cwd=repo.root)
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert header.split()[2:5] == ["FROM", "TO", "ROLLBACK"]
    start, at = header.index("FROM"), header.index("ROLLBACK")  # the columns, by the header's positions
    assert [(row[start:at].split(), row[at:].split("  ")[0]) for row in rows] == [
        (["-", "2"], "-"), (["2", "3"], "-"), (["3", "2"], "modelpins rollback"), (["2", "3"], "-"),
        (["3", "1"], "older than v3"),
    ]  # fmt: skip
    found = json.loads(run("--tracking-uri", mlflow_server.url, "history", model, "--json", cwd=repo.root).stdout)
    kinds = [(t["from"], t["to"], t["rollback"]) for t in found["transitions"] if t["alias"] == "champion"]
    assert kinds == [(None, 2, None), (2, 3, None), (3, 2, "command"), (2, 3, None), (3, 1, "older")]

    out = tmp_path / "site"
    site = run("--tracking-uri", mlflow_server.url, "site", "--out", out, cwd=repo.root)
    assert site.returncode == 0, site.stderr
    page = parse(out / "models" / f"{model}.html")
    cell, *table = [(a.get("data-rollback"), text(a)) for a in page.iter("a") if a.get("data-rollback")]
    assert cell == ("older", "rollback (older than v3)")  # the champion cell: 3 -> 1 by a plain edit
    assert sorted(table) == [("command", "rollback (modelpins rollback)"), ("older", "rollback (older than v3)")]
