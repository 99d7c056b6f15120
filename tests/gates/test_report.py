"""Rendering and evidence records are pure: text from a gate script cannot break the PR comment or the tag."""

from __future__ import annotations

import json

from modelpins.gates import AliasCheck, GateReport, GateResult, evidence, report


def check(*results: GateResult) -> AliasCheck:
    return AliasCheck("fraud-model", "champion", 1, 2, 7, results, "sha256:abc", {"champion": 1})


def test_markdown_escapes_script_text_and_fences_errors() -> None:
    hostile = GateResult("eval", "command", False, 0.5, "0.9", detail="a | b <img src=x> @octocat `x`")
    crashed = GateResult("safety", "safety", False, error="exited with status 1; stderr:\n```\nboom | ```` end")
    md = report.markdown(GateReport("model_pins.yaml", (check(hostile, crashed),), base="origin/main"))

    row = next(line for line in md.splitlines() if "| eval |" in line)
    assert row.count(" | ") == 6  # the detail's pipe did not add a column
    assert "a \\| b &lt;img src=x&gt; @\u200boctocat 'x'" in row
    block = md.split("<details>")[1]
    assert "`````text\nexited with status 1; stderr:\n```\nboom | ```` end\n`````" in block
    assert md.startswith("### ❌ modelpins gates: 1 of 1 alias moves blocked")


def test_table_and_summary_name_the_failed_gate() -> None:
    ok = GateResult("threshold-accuracy", "threshold", True, 0.91, ">= 0.85")
    bad = GateResult("latency", "latency", False, 95.0, "<= 50 ms", "p99 of 50 requests")
    r = GateReport("model_pins.yaml", (check(ok, bad),))
    lines = report.table(r).splitlines()
    assert lines[1].split()[:5] == ["fraud-model@champion", "1", "->", "2", "threshold-accuracy"]
    assert lines[1].split()[5:] == ["threshold", "0.91", ">=", "0.85", "pass"]
    assert lines[2].split() == ["latency", "latency", "95", "<=", "50", "ms", "FAIL"]
    assert lines[-1] == "fraud-model@champion v2 latency: p99 of 50 requests"
    assert report.summary(r) == "Gates: 0 of 1 alias move passed; blocked: fraud-model@champion v2 (latency)"
    assert report.as_json(r)["changes"][0]["gates"][1] == {
        "name": "latency",
        "kind": "latency",
        "passed": False,
        "value": 95.0,
        "threshold": "<= 50 ms",
        "detail": "p99 of 50 requests",
    }


def test_evidence_tag_stays_under_mlflow_limit() -> None:
    results = tuple(GateResult(f"gate-{i:03d}-" + "x" * 40, "command", i != 7, float(i), ">= 1") for i in range(200))
    text = evidence.record(check(*results), "a" * 40, "2026-01-01T00:00:00Z")
    body = json.loads(text)
    assert len(text) < 5000
    assert body["passed"] is False and body["truncated"] == 200
    assert [r["name"] for r in body["results"]] == [results[7].name]
