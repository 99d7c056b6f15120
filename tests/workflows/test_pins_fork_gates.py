"""pins-fork-gates.yml's `gates` job under act: a fork's pull request gets its gates before the merge,
from a trusted `workflow_run` job that reads the fork's pins file as data and runs everything else
from the default branch. GitHub is the REST stand-in (tests/helpers/github_stub.py): the comment,
the list of open pull requests and the `modelpins / gates` commit status."""

from __future__ import annotations

from tests.workflows.conftest import REPO, ActRun, Flow, git
from tests.workflows.test_pins_pr import PRINTING_PROBE, probes, promotion

FORK = "someone/models"


def after_the_fork_check(flow: Flow, number: int, base: str) -> tuple[str, ActRun]:
    """The fork's head is pushed; its pins-pr run completed; this workflow runs from main."""
    head = git(flow.root, "rev-parse", "HEAD")
    git(flow.root, "checkout", "-q", "main")  # a workflow_run runs the default branch's files
    flow.github.open_pull(number, head, FORK, base)
    event = {
        "workflow_run": {
            "name": "pins / pull request", "event": "pull_request", "conclusion": "success", "head_sha": head,
            "head_branch": "promote", "head_repository": {"full_name": FORK}, "pull_requests": [],
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }  # fmt: skip
    return head, flow.act("workflow_run", "pins-fork-gates.yml", "gates", event)


def test_a_fork_whose_gate_fails_ends_red_with_the_gate_table_in_the_comment(flow, client, refusing_proxy):
    """Before, a fork's check said "gates have not passed yet" and stayed green: nothing ran them."""
    model, base, _ = promotion(flow, client, refusing_proxy, accuracy=0.5)

    head, run = after_the_fork_check(flow, 12, base)

    assert run.returncode != 0
    body = flow.github.comments[12][0]["body"]
    assert "### modelpins: ❌ not ready to merge" in body
    assert "1 of 1 alias moves blocked" in body and "| ❌ |" in body
    assert [s["state"] for s in flow.github.statuses[head]] == ["pending", "failure"]
    assert {s["context"] for s in flow.github.statuses[head]} == {"modelpins / gates"}
    assert refusing_proxy.writes() == [] and refusing_proxy.reads()


def test_a_fork_that_edits_a_gate_script_still_runs_the_base_script(flow, client, refusing_proxy):
    model, base, _ = promotion(flow, client, refusing_proxy, head_probe=PRINTING_PROBE)

    head, run = after_the_fork_check(flow, 13, base)

    assert run.returncode == 0, run.log[-4000:]
    ran = probes(run)
    assert ran and all(p["cwd"].endswith("/.modelpins-base") for p in ran)
    assert not list(flow.work.glob("act-*/cache/*/tmp/pr-probe-ran"))  # the fork's script never ran
    body = flow.github.comments[13][0]["body"]
    assert "### modelpins: ✅ ready for review" in body and "probe of the base commit" in body
    assert f"| move | `{model}` | `champion` | 1 | 2 |" in body  # the fork's pins, read as data
    assert "probe of the pull request" not in run.log + body
    assert [s["state"] for s in flow.github.statuses[head]] == ["pending", "success"]
    assert refusing_proxy.url not in body
