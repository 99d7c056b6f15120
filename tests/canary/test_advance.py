"""`modelpins canary advance` against a real Prometheus scraping a stand-in of vLLM's /metrics.

Each decision is checked where a user sees it: the pins file's diff (the commit it makes, or none),
the exit code and message, and the record on the candidate's version in the real MLflow server.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from mlflow import MlflowClient

from devkit.canary_metrics import Traffic
from devkit.devserver import free_port
from modelpins.audit import canary as audit_canary
from tests.canary.conftest import Repo, serve, settle
from tests.canary.pins import pins_text
from tests.helpers.cli import run
from tests.helpers.github_stub import GitHubStub
from tests.helpers.seed import seed_model, unique

HEALTHY = Traffic(rps=50, error_ratio=0.0, latency=0.8)
AN_HOUR_AGO = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(timespec="seconds")


@pytest.fixture
def setup(mlflow_server, prometheus, standin, repo: Repo):
    """A model with champion v1 (stable) and challenger v2 (the canary at 10%), committed an hour ago."""
    model, dep = unique("chat"), unique("assistant")
    seed_model(MlflowClient(mlflow_server.url), model, 2, {"champion": 1, "challenger": 2})

    def advance(*extra: str, url: str | None = None, github: GitHubStub | None = None):
        env = {"MODELPINS_PROMETHEUS_URL": url or prometheus.url, "MODELPINS_ACTOR": "canary-bot"}
        env |= github.env() if github else {}
        return run("--pins", repo.pins, "--tracking-uri", mlflow_server.url, "canary", "advance", dep, *extra, env=env)

    def records(action: str | None = None) -> list[dict]:
        tags = MlflowClient(mlflow_server.url).get_model_version(model, "2").tags
        found = audit_canary.records(tags, dep)
        return [r for r in found if action is None or r["action"] == action]

    advance.history = lambda: run("--pins", repo.pins, "--tracking-uri", mlflow_server.url, "history", model)  # type: ignore[attr-defined]
    return model, dep, advance, records


def weight_diff(repo: Repo, ref: str = "HEAD") -> list[str]:
    """The changed lines of the diff of the pins file by the commit `ref`."""
    diff = repo.git("show", "--format=", "-U0", ref, "--", "model_pins.yaml").splitlines()
    return [ln for ln in diff if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def test_a_healthy_candidate_advances_through_every_step_then_proposes_the_alias_move(setup, standin, repo):
    model, dep, advance, records = setup
    serve(standin, dep, HEALTHY, HEALTHY)
    repo.commit(pins_text(model, dep), "canary at 10%", at=AN_HOUR_AGO)
    settle()

    first = advance("--commit")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "ADVANCE at 10% -> 50%" in first.stdout
    assert weight_diff(repo) == ["-      weight: 10", "+      weight: 50"]
    assert "Modelpins-Canary: " + dep + " advance 10 -> 50" in repo.git("log", "-1", "--format=%B")

    second = advance("--commit")
    assert second.returncode == 0, second.stdout + second.stderr
    assert weight_diff(repo) == ["-      weight: 50", "+      weight: 100"]

    last = advance("--commit")
    assert last.returncode == 0, last.stdout + last.stderr
    assert "PROMOTE at 100%" in last.stdout
    assert repo.git("branch", "--show-current").strip() == "main"  # back where it started, main untouched
    assert "weight: 100" in repo.pins.read_text() and "champion: 1" in repo.pins.read_text()
    [branch] = repo.git("branch", "--list", f"canary/{dep}-promote-*", "--format=%(refname:short)").split()
    assert weight_diff(repo, branch) == ["-      champion: 1", "+      champion: 2"]  # the alias move, for review
    assert f"Promote {model}@champion 1 -> 2 after canary {dep}" in repo.git("log", "-1", "--format=%B", branch)
    assert f"gh pr create --base main --head {branch}" in last.stdout  # no origin here: how to open it later

    actions = [(r["action"], r["weight"], r["to_weight"]) for r in records()]
    assert actions == [("advance", 10, 50), ("advance", 50, 100), ("promote", 100, 100)]
    evidence = records("promote")[0]["evidence"]
    assert evidence["window"] == "4s" and evidence["requests_candidate"] >= 20
    readings = {r["name"]: r for r in evidence["readings"]}
    assert readings["error-ratio"]["candidate"] == 0 and readings["error-ratio"]["stable"] == 0
    assert 0.5 < readings["e2e-p95"]["candidate"] < 1.0  # the 0.8 s requests, from the histogram's buckets
    assert records()[0]["actor"] == "canary-bot"
    shown = advance.history()
    assert shown.returncode == 0, shown.stderr
    assert "Canary decisions" in shown.stdout and f"{dep}  promote   100 -> 100" in shown.stdout


@pytest.fixture
def github():
    """The GitHub REST stand-in (no GitHub here): the pull requests `--open-pr` opens."""
    stub = GitHubStub().start()
    yield stub
    stub.stop()


def test_a_rerun_at_the_same_step_proposes_nothing_new(setup, standin, repo, github, tmp_path):
    """The schedule runs every 15 minutes in a fresh clone: while the first proposal waits for review, each later run
    reaches the same decision and must not open another pull request for it."""
    model, dep, advance, records = setup
    serve(standin, dep, HEALTHY, HEALTHY)
    step = repo.commit(pins_text(model, dep), "canary at 10%", at=AN_HOUR_AGO)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    settle()

    first = advance("--open-pr", github=github)
    assert first.returncode == 0, first.stdout + first.stderr
    (pull,) = github.pulls
    branch = pull["head"]["ref"]
    assert branch == f"canary/{dep}-advance-10-to-50-{step[:12]}"
    repo.git("branch", "-D", branch)  # the next scheduled run's clone has only main
    again = advance("--open-pr", github=github)

    assert again.returncode == 0, again.stdout + again.stderr
    assert f"already proposed on branch '{branch}'" in again.stdout
    assert len(github.pulls) == 1
    heads = subprocess.run(
        ["git", "--git-dir", str(origin), "for-each-ref", "--format=%(refname)"],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.split()
    assert heads == [f"refs/heads/{branch}"]
    assert "weight: 10" in repo.pins.read_text()  # main is untouched: the move waits for review
    assert [r["action"] for r in records()] == ["advance", "advance"]  # each run's decision is still recorded


def test_an_error_spike_rolls_back_with_the_failing_values(setup, standin, repo):
    model, dep, advance, records = setup
    serve(standin, dep, HEALTHY, Traffic(rps=50, error_ratio=0.3))
    repo.commit(pins_text(model, dep), "canary at 10%", at=AN_HOUR_AGO)
    settle()

    out = advance("--commit")
    assert out.returncode == 1, out.stdout + out.stderr  # a rollback needs a person to look
    assert "ROLLBACK at 10% -> 0%" in out.stdout
    assert weight_diff(repo) == ["-      weight: 10", "+      weight: 0"]
    message = repo.git("log", "-1", "--format=%B")
    failing = re.search(r"error-ratio = ([0-9.]+) on the candidate, above 0.05", message)
    assert failing and abs(float(failing.group(1)) - 0.3) < 0.05, message
    [record] = records("rollback")
    assert record["failures"] == [failing.group(0)]
    ratio = {r["name"]: r for r in record["evidence"]["readings"]}["error-ratio"]
    assert ratio["stable"] == 0 and ratio["candidate"] == pytest.approx(float(failing.group(1)), rel=1e-5)


def test_a_latency_regression_against_stable_rolls_back(setup, standin, repo):
    model, dep, advance, records = setup
    serve(standin, dep, HEALTHY, Traffic(rps=50, latency=3.0))  # under the 30 s threshold, 3x the stable track
    repo.commit(pins_text(model, dep), "canary at 10%", at=AN_HOUR_AGO)
    settle()

    out = advance("--commit")
    assert out.returncode == 1, out.stdout + out.stderr
    assert weight_diff(repo) == ["-      weight: 10", "+      weight: 0"]
    [record] = records("rollback")
    [failure] = record["failures"]
    assert failure.startswith("e2e-p95 = ") and "above the stable track's" in failure and "by more than 50%" in failure


def test_prometheus_down_holds(setup, standin, repo):
    model, dep, advance, records = setup
    serve(standin, dep, HEALTHY, HEALTHY)
    head = repo.commit(pins_text(model, dep), "canary at 10%", at=AN_HOUR_AGO)

    out = advance("--commit", url=f"http://127.0.0.1:{free_port()}")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "HOLD at 10%" in out.stdout and "did not answer" in out.stdout
    assert repo.git("rev-parse", "HEAD").strip() == head and not repo.git("status", "--porcelain")
    [record] = records("hold")
    assert "did not answer" in record["evidence"]["unreachable"]


def test_too_little_traffic_holds(setup, standin, repo):
    model, dep, advance, records = setup
    serve(standin, dep, HEALTHY, Traffic(rps=1))
    head = repo.commit(pins_text(model, dep), "canary at 10%", at=AN_HOUR_AGO)
    settle()

    out = advance("--commit")
    assert out.returncode == 0, out.stdout + out.stderr  # waiting for traffic is not a failure
    assert "too few requests" in out.stdout and "candidate" in out.stdout
    assert repo.git("rev-parse", "HEAD").strip() == head
    [record] = records("hold")
    assert record["evidence"]["requests_candidate"] < 20 <= record["evidence"]["requests_stable"]


def test_too_little_time_at_a_step_holds(setup, standin, repo):
    model, dep, advance, records = setup
    serve(standin, dep, HEALTHY, HEALTHY)
    head = repo.commit(pins_text(model, dep, min_time="1h"), "canary at 10%")  # committed just now
    settle()

    out = advance("--commit")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "needs 3600s before it may advance" in out.stdout
    assert repo.git("rev-parse", "HEAD").strip() == head
    [record] = records("hold")
    assert record["seconds_at_step"] < 3600 and record["evidence"]["readings"]  # measured, then held for time


def test_a_query_prometheus_refuses_is_invalid_input_at_its_line(prometheus, repo, tmp_path):
    bad = """\
          error-ratio:
            query: sum(rate(vllm:request_success_total{$selector}[$window])) by
            threshold: 0.05
            direction: below
"""
    repo.commit(pins_text("chat", "assistant", queries=bad), "canary")
    out = run("--pins", repo.pins, "canary", "status", "assistant", env={"MODELPINS_PROMETHEUS_URL": prometheus.url})
    assert out.returncode == 2, out.stdout + out.stderr
    line = repo.pins.read_text().splitlines().index("          error-ratio:") + 1
    assert f"model_pins.yaml:{line}: PromQL of 'error-ratio': " in out.stderr and "parse error" in out.stderr


def test_status_as_json_changes_nothing(setup, standin, repo):
    model, dep, advance, records = setup
    serve(standin, dep, HEALTHY, HEALTHY)
    repo.commit(pins_text(model, dep), "canary at 10%", at=AN_HOUR_AGO)
    settle()
    out = run("--pins", repo.pins, "canary", "status", dep, "--json", env={"MODELPINS_PROMETHEUS_URL": advance and ""})
    decision = json.loads(out.stdout)
    assert decision["action"] == "hold" and "no Prometheus configured" in decision["reason"]
    assert not repo.git("status", "--porcelain") and records() == []
