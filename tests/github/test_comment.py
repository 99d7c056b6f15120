"""The PR comment is upserted: posted once, then edited in place on every push.

GitHub cannot be reached from here: these tests run against tests/helpers/github_stub.py,
a local HTTP server standing in for the GitHub REST API (comments, page links, token check).
"""

from __future__ import annotations

from modelpins.github_api import MARKER
from tests.helpers.cli import run

PR = 7


def test_first_run_posts_later_runs_edit_the_same_comment(github, tmp_path):
    # 150 comments already: the tool's own is on the second page of 100.
    for i in range(120):
        github.add_comment(PR, f"review chatter {i}", "bob")
    github.add_comment(PR, f"{MARKER}\nquoted by a human", "mallory")  # not ours: never edited
    body = tmp_path / "comment.md"

    body.write_text("### plan v1\n")
    first = run("comment", "--pr", PR, "--body-file", body, env=github.env())
    body.write_text("### plan v2\n")
    second = run("comment", "--pr", PR, "--body-file", body, env=github.env())
    body.write_text("### plan v3\n")
    third = run("comment", "--pr", PR, "--body-file", body, env=github.env())

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("created comment")
    assert second.stdout.startswith("updated comment") and third.stdout.startswith("updated comment")
    ours = [c for c in github.comments[PR] if c["user"]["login"] == "github-actions[bot]"]
    assert len(ours) == 1  # not stacked
    assert ours[0]["body"] == f"{MARKER}\n### plan v3\n"
    assert [c["body"] for c in github.comments[PR] if c["user"]["login"] == "mallory"] == [
        f"{MARKER}\nquoted by a human"
    ]
    assert sum(1 for m, _ in github.log if m == "GET") == 6  # two pages per run
    writes = [(m, p) for m, p in github.log if m != "GET"]
    assert writes == [
        ("POST", f"/repos/acme/models/issues/{PR}/comments"),
        ("PATCH", f"/repos/acme/models/issues/comments/{ours[0]['id']}"),
        ("PATCH", f"/repos/acme/models/issues/comments/{ours[0]['id']}"),
    ]


def test_bad_token_fails_without_printing_it(github, tmp_path):
    body = tmp_path / "comment.md"
    body.write_text("plan\n")
    secret = "ghs_wrongtoken_" + "x" * 24
    result = run("comment", "--pr", PR, "--body-file", body, env=github.env(GITHUB_TOKEN=secret))
    assert result.returncode == 1
    assert "401 Bad credentials" in result.stderr
    assert secret not in result.stdout + result.stderr
    assert github.comments.get(PR) is None


def test_missing_token_is_invalid_input(github, tmp_path):
    body = tmp_path / "comment.md"
    body.write_text("plan\n")
    result = run("comment", "--pr", PR, "--body-file", body, env=github.env(GITHUB_TOKEN=""))
    assert result.returncode == 2
    assert "GITHUB_TOKEN is not set" in result.stderr
    assert github.log == []


def test_oversized_body_is_cut_to_githubs_limit(github, tmp_path):
    body = tmp_path / "comment.md"
    body.write_text("x" * 80_000)
    result = run("comment", "--pr", PR, "--body-file", body, env=github.env())
    assert result.returncode == 0, result.stderr
    posted = github.comments[PR][0]["body"]
    assert len(posted) < 65_536 and posted.endswith("the job summary has the rest)")


def test_a_read_only_token_warns_and_leaves_the_result_to_the_gates(github, tmp_path):
    """A read-only token's 403 turned the job red though the gates passed."""
    body = tmp_path / "comment.md"
    body.write_text("plan\n")
    github.comments_writable = False
    summary = tmp_path / "summary.md"
    strict = run("comment", "--pr", PR, "--body-file", body, env=github.env())
    assert strict.returncode == 1 and "403 Resource not accessible by integration" in strict.stderr

    env = github.env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    result = run("comment", "--pr", PR, "--body-file", body, "--warn-if-refused", env=env)
    assert result.returncode == 0, result.stderr
    assert "::warning::the pull request comment could not be posted (GitHub API" in result.stdout
    assert "the report is in this job's summary" in summary.read_text()
    assert github.token not in result.stdout + result.stderr
    assert github.comments.get(PR) is None
