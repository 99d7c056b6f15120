"""`find-pr` and `commit-status`, the fork gates' GitHub steps, against the GitHub REST stand-in
(tests/helpers/github_stub.py: GitHub's own description checks every request and answer)."""

from __future__ import annotations

from tests.helpers.cli import run

HEAD = "ab" * 20


def test_find_pr_names_the_forks_pull_request_by_its_head(github, tmp_path):
    github.open_pull(31, "cd" * 20, "acme/models", "ef" * 20)
    github.open_pull(32, HEAD, "someone/models", "ef" * 20)
    output = tmp_path / "output"
    env = github.env(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(output))

    found = run("find-pr", "--head-sha", HEAD, "--head-repo", "someone/models", env=env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "32" and "number<<" in output.read_text() and "\n32\n" in output.read_text()

    other = run("find-pr", "--head-sha", HEAD, "--head-repo", "mallory/models", env=env)
    assert other.returncode == 1 and "no open pull request has head abababababab" in other.stderr
    skipped = run("find-pr", "--head-sha", HEAD, "--head-repo", "mallory/models", "--missing-ok", env=env)
    assert skipped.returncode == 0 and "nothing to do" in skipped.stdout


def test_commit_status_sets_the_required_status_on_the_head(github):
    result = run("commit-status", "--sha", HEAD, "--state", "failure", "--description", "x" * 200, env=github.env())
    assert result.returncode == 0, result.stderr
    (status,) = github.statuses[HEAD]
    assert status["state"] == "failure" and status["context"] == "modelpins / gates"
    assert len(status["description"]) == 140
    assert github.token not in result.stdout + result.stderr
