"""pins-pr.yml's `check` job under act: the comment, the job summary, the exit status; read-only
against the registry; gates from the base commit; nothing for forks."""

from __future__ import annotations

import json

from tests.github.conftest import line_of
from tests.helpers.seed import seed_model, unique
from tests.workflows.conftest import ActRun, Flow, git

MARKER = "<!-- modelpins:plan -->"
PROBE = """import json, os, sys
json.load(sys.stdin)
print(json.dumps({"passed": True, "value": 1, "detail": "probe of the base commit"}))
"""
# What a pull request could put in a gate script: print everything it can see.
PRINTING_PROBE = """import json, os, sys
json.load(sys.stdin)
print("\\n".join(f"{k}={v}" for k, v in os.environ.items()))
open(os.path.join(os.environ["RUNNER_TEMP"], "pr-probe-ran"), "w").write("ran")
print(json.dumps({"passed": True, "value": 1, "detail": "probe of the pull request"}))
"""


def pins_text(model: str, champion: int) -> str:
    return f"""version: 1
owners: ["@acme/ml-platform"]
models:
  {model}:
    owners: ["@alice"]
    aliases:
      champion: {champion}
    gates:
      champion:
        - kind: threshold
          metric: accuracy
          min: 0.8
        - kind: command
          name: probe
          run: [python, scripts/gates/probe.py]
"""


def probes(run: ActRun) -> list[dict]:
    """The gate script's processes in a job (from the recorded processes)."""
    return [p for p in run.processes if "scripts/gates/probe.py" in p["argv"]]


def promotion(flow: Flow, client, proxy, accuracy: float = 0.9, head_probe: str = PROBE):
    model = unique("wf-pr")
    seed_model(client, model, [{"accuracy": 0.85}, {"accuracy": accuracy}], {"champion": 1})
    base = flow.commit("pins", {"model_pins.yaml": pins_text(model, 1), "scripts/gates/probe.py": PROBE})
    git(flow.root, "checkout", "-q", "-b", "promote")
    head_text = pins_text(model, 2)
    flow.commit("promote", {"model_pins.yaml": head_text, "scripts/gates/probe.py": head_probe})
    flow.secrets = {"MLFLOW_TRACKING_URI": proxy.url, "MLFLOW_TRACKING_TOKEN": "read-only-token-7f3a"}
    return model, base, head_text


def test_passing_promotion_comments_once_and_records_nothing(flow, client, refusing_proxy):
    model, base, _ = promotion(flow, client, refusing_proxy)

    first = flow.act("pull_request", "pins-pr.yml", "check", flow.pr_event(7, base))

    assert first.returncode == 0, first.log[-4000:]
    comments = flow.github.comments[7]
    assert len(comments) == 1 and MARKER in comments[0]["body"]
    body = comments[0]["body"]
    assert "### modelpins: ✅ ready for review" in body
    assert f"| move | `{model}` | `champion` | 1 | 2 |" in body
    assert "modelpins gates: all 1 alias moves passed their gates" in body
    assert "probe of the base commit" in body
    ran = probes(first)
    assert ran and all(p["cwd"].endswith("/.modelpins-base") for p in ran)  # the base checkout's script
    assert "### modelpins: ✅ ready for review" in first.summary and f"`{model}`" in first.summary
    assert refusing_proxy.writes() == []  # not one write was even attempted
    assert refusing_proxy.reads()  # the registry was read (plan, gates)
    head = git(flow.root, "rev-parse", "HEAD")
    assert [s["state"] for s in flow.github.statuses[head]] == ["success"]  # the required modelpins / gates

    # A second push: the same comment is edited, not duplicated.
    flow.commit("promote again", {"README.md": "another push\n"})
    second = flow.act("pull_request", "pins-pr.yml", "check", flow.pr_event(7, base))
    assert second.returncode == 0, second.log[-4000:]
    assert len(flow.github.comments[7]) == 1
    assert ("PATCH", f"/repos/acme/models/issues/comments/{comments[0]['id']}") in flow.github.log


def test_promotion_blocked_by_its_gates_fails_and_says_why(flow, client, refusing_proxy):
    model, base, head_text = promotion(flow, client, refusing_proxy, accuracy=0.5)

    run = flow.act("pull_request", "pins-pr.yml", "check", flow.pr_event(8, base))

    assert run.returncode != 0
    line = line_of(head_text, "champion: 2")
    assert (
        f"::error file=model_pins.yaml,line={line}::{model}@champion v2: gates failed (threshold-accuracy)" in run.log
    )
    body = flow.github.comments[8][0]["body"]
    assert "### modelpins: ❌ not ready to merge" in body
    assert "1 of 1 alias moves blocked" in body and "| ❌ |" in body
    assert refusing_proxy.writes() == []
    assert [s["state"] for s in flow.github.statuses[git(flow.root, "rev-parse", "HEAD")]] == ["failure"]


def test_a_changed_gate_script_does_not_run_before_merge(flow, client, refusing_proxy):
    model, base, _ = promotion(flow, client, refusing_proxy, head_probe=PRINTING_PROBE)

    run = flow.act("pull_request", "pins-pr.yml", "check", flow.pr_event(9, base))

    assert run.returncode == 0, run.log[-4000:]
    assert probes(run) == []  # neither the pull request's gate script nor the base's ran
    assert not list(flow.work.glob("act-*/cache/*/tmp/pr-probe-ran"))  # the pull request's never ran
    assert "read-only-token-7f3a" not in run.log and "probe of the pull request" not in run.log
    body = flow.github.comments[9][0]["body"]
    assert "modelpins gates: gate change: 1 of 1 alias moves are gated after merge" in body
    assert "Needs review by @\u200bacme/ml-platform (CODEOWNERS)" in body
    # The package the job ran is the base commit's: the install step put it in the job's venv from there.
    (installed,) = flow.venv.glob("lib/python*/site-packages/modelpins-*.dist-info/direct_url.json")
    assert json.loads(installed.read_text())["url"].endswith("/.modelpins-base")
    gates = [p["argv"] for p in run.processes if "gate" in p["argv"]]
    assert gates and all("--no-record" in argv and "--gates-from" in argv for argv in gates)
    assert refusing_proxy.writes() == []


def test_a_fork_gets_no_registry_secret_and_the_registry_free_checks(flow, client, refusing_proxy):
    model, base, _ = promotion(flow, client, refusing_proxy)

    run = flow.act("pull_request", "pins-pr.yml", "check", flow.pr_event(10, base, head_repo="someone/models"))

    assert run.returncode == 0, run.log[-4000:]
    assert run.processes, "no step was recorded"
    seen = run.env_values()
    assert "read-only-token-7f3a" not in seen and refusing_proxy.url not in seen
    assert refusing_proxy.log == []  # the registry was never contacted
    assert 10 not in flow.github.comments  # no comment for forks
    assert flow.github.statuses == {}  # a fork's modelpins / gates status comes from pins-fork-gates.yml
    assert f"| move | `{model}` | `champion` | 1 | 2 |" in run.summary  # the plan, file against base
    assert any("validate" in a for p in run.processes for a in p["argv"])
    assert "comment" not in run.summary.lower()  # there is none to update


def test_a_read_only_token_warns_and_the_job_follows_the_gates(flow, client, refusing_proxy):
    """The comment step's 403 turned the job red although the gates passed."""
    _, base, _ = promotion(flow, client, refusing_proxy)
    flow.github.comments_writable = False

    run = flow.act("pull_request", "pins-pr.yml", "check", flow.pr_event(11, base))

    assert run.returncode == 0, run.log[-4000:]
    assert "::warning::the pull request comment could not be posted" in run.log or (
        "the pull request comment could not be posted" in run.log
    )
    assert "### modelpins: ✅ ready for review" in run.summary
    assert "the report is in this job's summary" in run.summary
    assert 11 not in flow.github.comments
    assert refusing_proxy.url not in run.summary and refusing_proxy.url not in run.log  # named by its label
