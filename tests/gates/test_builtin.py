"""threshold, regression and logged-latency gates against the real MLflow server."""

from __future__ import annotations

import json

from tests.gates.support import seed, tag, write
from tests.helpers.cli import run
from tests.helpers.seed import alias_state, unique


def test_candidate_below_threshold_fails_and_records_it(client, proxy, tmp_path):
    model = unique("thresh")
    seed(client, model, [{"accuracy": 0.90}, {"accuracy": 0.80}], {"champion": 1})
    pins = write(
        tmp_path / "model_pins.yaml",
        f"""
        version: 1
        models:
          {model}:
            aliases:
              champion: 2
            gates:
              champion:
                - kind: threshold
                  metric: accuracy
                  min: 0.85
        """,
    )

    result = run("--pins", pins, "--tracking-uri", proxy.url, "gate")

    assert result.returncode == 1, result.stderr
    row = next(line for line in result.stdout.splitlines() if "threshold-accuracy" in line)
    assert row.split()[-5:] == ["threshold", "0.8", ">=", "0.85", "FAIL"]
    assert f"{model}@champion v2" in result.stderr and "blocked" in result.stderr
    evidence = tag(client, model, 2, "champion")
    assert evidence is not None and evidence["passed"] is False
    assert evidence["results"] == [
        {"name": "threshold-accuracy", "kind": "threshold", "value": 0.8, "threshold": ">= 0.85", "passed": False}
    ]
    assert alias_state(client, [model]) == {model: {"champion": 1}}  # gate never moves an alias


def test_regression_against_champion_respects_tolerance(client, tmp_path, mlflow_server):
    model = unique("regress")
    seed(client, model, [{"accuracy": 0.90}, {"accuracy": 0.88}, {"accuracy": 0.895}], {"champion": 1})
    text = """
        version: 1
        models:
          {model}:
            aliases:
              champion: {version}
            gates:
              champion:
                - kind: regression
                  metric: accuracy
                  tolerance: 0.01
        """
    pins = tmp_path / "model_pins.yaml"

    write(pins, text.format(model=model, version=2))
    worse = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--json")
    write(pins, text.format(model=model, version=3))
    within = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--json")

    assert worse.returncode == 1, worse.stderr
    [gate] = json.loads(worse.stdout)["changes"][0]["gates"]
    assert gate["passed"] is False and gate["value"] == 0.88 and gate["threshold"] == ">= 0.89"
    assert "champion v1 has 0.9" in gate["detail"]
    assert within.returncode == 0, within.stdout + within.stderr
    assert json.loads(within.stdout)["changes"][0]["gates"][0]["passed"] is True
    assert tag(client, model, 2, "champion")["passed"] is False  # type: ignore[index]
    assert tag(client, model, 3, "champion")["baselines"] == {"champion": 1}  # type: ignore[index]


def test_passing_candidate_passes_is_tagged_and_costs_per_change(client, proxy, tmp_path):
    model, other = unique("passing"), unique("ungated")
    seed(client, model, [{"accuracy": 0.90, "p99_ms": 40}, {"accuracy": 0.93, "p99_ms": 35}], {"champion": 1})
    seed(client, other, 2, {"champion": 1, "stale": 1})
    pins = write(
        tmp_path / "model_pins.yaml",
        f"""
        version: 1
        models:
          {model}:
            aliases:
              champion: 2
            gates:
              "*":
                - kind: threshold
                  metric: accuracy
                  min: 0.85
              champion:
                - kind: regression
                  metric: accuracy
                - kind: latency
                  metric: p99_ms
                  max_ms: 50
          {other}:
            aliases:
              champion: 2
        """,
    )
    report = tmp_path / "gates.md"

    result = run(
        "--pins", pins, "--tracking-uri", proxy.url, "gate", "--report", report, env={"MODELPINS_COMMIT": "c0ffee" * 6}
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Gates: 2 of 2 alias moves passed." in result.stdout
    assert f"{other}@champion" in result.stdout and "(no gates)" in result.stdout
    evidence = tag(client, model, 2, "champion")
    assert evidence is not None
    assert evidence["passed"] is True and evidence["version"] == 2 and evidence["commit"] == "c0ffee" * 6
    assert [(r["name"], r["value"], r["passed"]) for r in evidence["results"]] == [
        ("threshold-accuracy", 0.93, True),
        ("regression-accuracy", 0.93, True),
        ("latency-p99_ms", 35.0, True),
    ]
    assert evidence["digest"].startswith("sha256:") and evidence["at"].endswith("Z")
    assert tag(client, other, 2, "champion") is None  # no gates, no evidence
    markdown = report.read_text()
    assert markdown.startswith("### ✅ modelpins gates: all 2 alias moves passed")
    assert f"`{model}@champion` 1 → 2" in markdown and "regression-accuracy" in markdown
    # cost: aliases page, one version search, a run per candidate and baseline; one tag write
    paths = [p.rsplit("/mlflow/", 1)[1] for _, p in proxy.log]
    assert sorted(paths) == sorted(
        ["registered-models/search", "model-versions/search", "runs/get", "runs/get", "model-versions/set-tag"]
    )


def test_no_baseline_passes_with_note_and_missing_metric_fails_closed(client, tmp_path, mlflow_server):
    model = unique("first")
    seed(client, model, [{"accuracy": 0.9}], {})
    pins = write(
        tmp_path / "model_pins.yaml",
        f"""
        version: 1
        models:
          {model}:
            aliases:
              challenger: 1
              champion: 1
            gates:
              challenger:
                - kind: regression
                  metric: accuracy
                  against: champion
                - kind: threshold
                  metric: f1
                  min: 0.5
        """,
    )

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--json")

    assert result.returncode == 1
    changes = {c["alias"]: c for c in json.loads(result.stdout)["changes"]}
    regression, threshold = changes["challenger"]["gates"]  # champion is pinned, but not yet set in the registry
    assert regression["passed"] is True and "nothing to regress against" in regression["detail"]
    assert threshold["passed"] is False and "metric 'f1' is not logged" in threshold["error"]
    assert "accuracy" in threshold["error"]  # says what is logged
