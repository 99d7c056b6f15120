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
    assert "MISSING risk: owners @alice; approved by nobody; changes requested by alice" in result.stdout.splitlines()
    assert "nobody yet" not in result.stdout


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


OWNERLESS = """version: 1
models:
  fraud:
    aliases:
      champion: {champion}
"""


def test_a_model_without_owners_never_passes(pr_repo, github):
    """No owners, no pass: before, an imported (owner-less) file passed with zero reviews."""
    repo = pr_repo(OWNERLESS.format(champion=1))
    repo.commit(OWNERLESS.format(champion=2), "promote fraud")

    result = approvals(repo, github)
    assert result.returncode == 1
    assert "fraud (has no owners)" in result.stderr
    assert "No owners, no pass: fraud has no owners" in result.stderr and 'owners: ["@org/team"]' in result.stderr
    github.add_review(PR, "bob", "APPROVED")  # a review from anyone does not make it pass either
    result = approvals(repo, github)
    assert result.returncode == 1 and "fraud (has no owners)" in result.stderr
    assert "MISSING fraud: owners (none); approved by nobody yet" in result.stdout


def test_adding_the_first_owners_alone_needs_one_approving_review(pr_repo, github):
    """The way out of an owner-less file: a pull request that only adds owners, approved by anyone."""
    repo = pr_repo(OWNERLESS.format(champion=1))
    repo.commit('owners: ["@acme/ml-platform"]\n' + OWNERLESS.format(champion=1), "add the first owners")
    assert approvals(repo, github).returncode == 1  # no review yet
    github.add_review(PR, "bob", "APPROVED")
    result = approvals(repo, github)
    assert result.returncode == 0, result.stderr

    # Owners and an alias move in one pull request: the move still has no owner on the base branch.
    repo.commit('owners: ["@acme/ml-platform"]\n' + OWNERLESS.format(champion=2), "and promote")
    result = approvals(repo, github)
    assert result.returncode == 1 and "fraud (has no owners)" in result.stderr


def test_validate_warns_on_a_model_without_owners(tmp_path):
    pins_file = tmp_path / "model_pins.yaml"
    pins_file.write_text(OWNERLESS.format(champion=1))
    result = run("validate", "--offline", cwd=tmp_path, env={"GITHUB_ACTIONS": "true"})
    assert result.returncode == 0, result.stderr
    assert "warning: model_pins.yaml:3: fraud has no owners (and the file has none)" in result.stderr
    assert "::warning file=model_pins.yaml,line=3::fraud has no owners" in result.stdout
    pins_file.write_text('owners: ["@acme/ml-platform"]\n' + OWNERLESS.format(champion=1))
    assert "no owners" not in run("validate", "--offline", cwd=tmp_path).stderr
