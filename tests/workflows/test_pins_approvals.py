"""pins-approvals.yml under act: reviews read from the GitHub stand-in, owners from the base branch."""

from __future__ import annotations

from tests.workflows.conftest import Flow, git


def pins_text(champion: int) -> str:
    return f"""version: 1
owners: ["@acme/ml-platform"]
models:
  fraud:
    owners: ["@alice"]
    aliases:
      champion: {champion}
"""


def review_event(flow: Flow, base: str, state: str, login: str) -> dict:
    return flow.pr_event(21, base, action="submitted", review={"state": state, "user": {"login": login}})


def test_owner_approval_of_the_head_commit_is_needed_and_lost_on_a_new_push(flow):
    base = flow.commit("pins", {"model_pins.yaml": pins_text(1)})
    git(flow.root, "checkout", "-q", "-b", "promote")
    head = flow.commit("promote", {"model_pins.yaml": pins_text(2)})

    flow.github.add_review(21, "mallory", "APPROVED", commit_id=head)  # not an owner
    unapproved = flow.act(
        "pull_request_review", "pins-approvals.yml", "approvals", review_event(flow, base, "approved", "mallory")
    )
    missing = "1 change without an owner's approval: fraud (needs one of @alice)"
    assert unapproved.returncode != 0 and missing in unapproved.log

    flow.github.add_review(21, "alice", "APPROVED", commit_id=head)
    approved = flow.act(
        "pull_request_review", "pins-approvals.yml", "approvals", review_event(flow, base, "approved", "alice")
    )
    assert approved.returncode == 0, approved.log[-3000:]
    assert ("GET", "/repos/acme/models/pulls/21/reviews") in flow.github.log

    flow.commit("another change", {"model_pins.yaml": pins_text(3)})  # alice approved the old head
    pushed = flow.act("pull_request", "pins-approvals.yml", "approvals", flow.pr_event(21, base, action="synchronize"))
    assert pushed.returncode != 0 and missing in pushed.log


REQUIRED = ("pins-approvals.yml", "pins-pr.yml")  # the workflows whose jobs the README makes required checks


def test_required_workflows_run_on_every_pull_request():
    """A `paths:` filter left a push that touches other files without a result for its head commit."""
    import yaml

    from tests.workflows.conftest import ROOT

    for name in REQUIRED:
        on = yaml.safe_load((ROOT / ".github/workflows" / name).read_text())[True]  # YAML 1.1 reads `on` as True
        assert "pull_request" in on, name
        assert not set(on["pull_request"] or {}) & {"paths", "paths-ignore", "branches", "branches-ignore"}, name


def test_a_readme_push_to_an_approved_pr_gets_an_approvals_result_for_its_head(flow):
    base = flow.commit("pins", {"model_pins.yaml": pins_text(1)})
    git(flow.root, "checkout", "-q", "-b", "promote")
    approved = flow.commit("promote", {"model_pins.yaml": pins_text(2)})
    flow.github.add_review(21, "alice", "APPROVED", commit_id=approved)
    first = flow.act("pull_request", "pins-approvals.yml", "approvals", flow.pr_event(21, base, action="synchronize"))
    assert first.returncode == 0, first.log[-3000:]

    head = flow.commit("docs", {"README.md": "a line more\n"})  # the pins file is not touched
    pushed = flow.act("pull_request", "pins-approvals.yml", "approvals", flow.pr_event(21, base, action="synchronize"))
    # A result for the new head: alice approved the commit before it, as GitHub's stale-review rule says.
    assert pushed.returncode != 0 and "fraud (needs one of @alice)" in pushed.log
    assert any(head in p["argv"] for p in pushed.processes if "approvals" in p["argv"])
    flow.github.add_review(21, "alice", "APPROVED", commit_id=head)
    again = flow.act(
        "pull_request_review", "pins-approvals.yml", "approvals", review_event(flow, base, "approved", "alice")
    )
    assert again.returncode == 0, again.log[-3000:]


def test_a_pull_request_that_leaves_the_pins_alone_passes_at_once_and_says_so(flow):
    base = flow.commit("pins", {"model_pins.yaml": pins_text(1)})
    git(flow.root, "checkout", "-q", "-b", "docs")
    flow.commit("docs", {"README.md": "a line more\n"})
    run = flow.act("pull_request", "pins-approvals.yml", "approvals", flow.pr_event(22, base, action="opened"))
    assert run.returncode == 0, run.log[-3000:]
    assert f"model_pins.yaml: no change relative to {base} that needs an owner's approval" in run.log
    assert not [r for r in flow.github.log if "/reviews" in r[1]]  # decided without asking GitHub
