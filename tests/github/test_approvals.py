"""`modelpins approvals`: every changed model needs an approving review from one of its owners.

Reviews and team membership come from tests/helpers/github_stub.py, a local HTTP server
standing in for the GitHub REST API; the pins files are in a real git repository.
"""

from __future__ import annotations

from tests.helpers.cli import run

PR = 12


def pins(risk_champion: int, llm_champion: int, risk_owners: str = '["@alice"]') -> str:
    return f"""version: 1
owners: ["@acme/ml-platform"]
models:
  risk:
    owners: {risk_owners}
    aliases:
      champion: {risk_champion}
  llm:
    owners: ["@acme/llm-team"]
    aliases:
      champion: {llm_champion}
"""


def approvals(repo, github, *extra):
    return run("approvals", "--base", "main", "--pr", PR, *extra, cwd=repo.root, env=github.env())


def test_each_changed_model_needs_one_of_its_owners(pr_repo, github):
    repo = pr_repo(pins(1, 1))
    repo.commit(pins(2, 2), "promote both")
    github.teams[("acme", "llm-team")] = {"carol"}

    github.add_review(PR, "bob", "APPROVED")  # approves, but owns nothing
    result = approvals(repo, github)
    assert result.returncode == 1
    assert "2 changes without an owner's approval: risk (needs one of @alice), llm (needs one of @acme/llm-team)" in (
        result.stderr
    )

    github.add_review(PR, "Alice", "APPROVED")  # logins are case-insensitive
    github.add_review(PR, "carol", "APPROVED")  # a member of @acme/llm-team
    result = approvals(repo, github)
    assert result.returncode == 0, result.stderr
    assert "ok   risk: owners @alice; approved by alice" in result.stdout
    assert "ok   llm: owners @acme/llm-team; approved by carol" in result.stdout

    github.add_review(PR, "alice", "CHANGES_REQUESTED")  # the latest review counts
    result = approvals(repo, github)
    assert result.returncode == 1 and "risk (needs one of @alice)" in result.stderr


def test_only_changed_models_need_approval(pr_repo, github):
    repo = pr_repo(pins(1, 1))
    repo.commit(pins(2, 1), "promote risk")
    github.add_review(PR, "alice", "APPROVED")
    result = approvals(repo, github)
    assert result.returncode == 0, result.stderr
    assert "llm" not in result.stdout


def test_owners_from_the_base_branch_decide(pr_repo, github):
    """A PR that makes bob an owner does not let bob approve that same PR."""
    repo = pr_repo(pins(1, 1))
    repo.commit(pins(2, 1, risk_owners='["@bob"]'), "promote and take ownership")
    github.add_review(PR, "bob", "APPROVED")
    result = approvals(repo, github)
    assert result.returncode == 1 and "risk (needs one of @alice)" in result.stderr


def test_stale_approval_does_not_count_for_a_new_head(pr_repo, github):
    repo = pr_repo(pins(1, 1))
    first = repo.commit(pins(2, 1), "promote to 2")
    github.add_review(PR, "alice", "APPROVED", commit_id=first)
    head = repo.commit(pins(3, 1), "actually 3")
    assert approvals(repo, github, "--head-sha", first).returncode == 0
    result = approvals(repo, github, "--head-sha", head)
    assert result.returncode == 1 and "risk" in result.stderr


def test_team_owners_need_a_token_that_reads_teams(pr_repo, github):
    repo = pr_repo(pins(1, 1))
    repo.commit(pins(1, 2), "promote llm")
    github.teams[("acme", "llm-team")] = {"carol"}
    github.teams_token = "ghp_orgreader_" + "y" * 24  # the workflow's GITHUB_TOKEN cannot read teams
    github.add_review(PR, "carol", "APPROVED")

    result = approvals(repo, github)
    assert result.returncode == 1
    assert "Team membership could not be read" in result.stderr and "MODELPINS_TEAMS_TOKEN" in result.stderr

    env = github.env(MODELPINS_TEAMS_TOKEN=github.teams_token)
    result = run("approvals", "--base", "main", "--pr", PR, cwd=repo.root, env=env)
    assert result.returncode == 0, result.stderr
    assert "approved by carol" in result.stdout
    assert github.teams_token not in result.stdout + result.stderr


def test_changes_outside_models_need_the_file_owners(pr_repo, github):
    repo = pr_repo(pins(1, 1))
    repo.commit(pins(1, 1).replace('owners: ["@acme/ml-platform"]', 'owners: ["@dave"]'), "new file owners")
    github.teams[("acme", "ml-platform")] = {"erin"}
    github.add_review(PR, "dave", "APPROVED")
    assert approvals(repo, github).returncode == 1  # dave is not an owner on main yet
    github.add_review(PR, "erin", "APPROVED")
    result = approvals(repo, github)
    assert result.returncode == 0, result.stderr
    assert "ok   model_pins.yaml: owners @acme/ml-platform; approved by erin" in result.stdout
