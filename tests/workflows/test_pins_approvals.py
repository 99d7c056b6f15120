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
