"""Gate definitions in model_pins.yaml are read strictly: each mistake is reported at its line with the fix."""

from __future__ import annotations

import pytest

from modelpins import pins
from modelpins.errors import InvalidPins
from tests.helpers.cli import run
from tests.helpers.seed import unique

HEAD = "version: 1\nmodels:\n  m:\n    aliases:\n      champion: 2\n    gates:\n      champion:\n"


def g(*fields: str) -> str:
    """One gate as it stands in the list under 'champion:' (line 8 is its first field)."""
    return "".join(("        - " if i == 0 else "          ") + f + "\n" for i, f in enumerate(fields))


CASES = {
    # name: (gate lines under 'champion:', line, words the message must contain)
    "unknown field": (g("kind: threshold", "metric: a", "mni: 0.9"), 10, "did you mean 'min'"),
    "field of another kind": (g("kind: threshold", "metric: a", "tolerance: 0.1"), 10, "unknown"),
    "missing kind": (g("metric: a"), 8, "missing 'kind'"),
    "unknown kind": (g("kind: accuracy"), 8, "not one of"),
    "threshold without bounds": (g("kind: threshold", "metric: a"), 8, "needs 'min' or 'max'"),
    "threshold min above max": (g("kind: threshold", "metric: a", "min: 0.9", "max: 0.1"), 8, "above max"),
    "regression without metric": (g("kind: regression"), 8, "needs 'metric'"),
    "negative tolerance": (g("kind: regression", "metric: a", "tolerance: -1"), 10, "out of range"),
    "against not an alias": (g("kind: regression", "metric: a", "against: latest"), 10, "not an alias"),
    "latency both sources": (g("kind: latency", "metric: p", "endpoint: http://x/", "max_ms: 5"), 8, "exactly one"),
    "latency without max_ms": (g("kind: latency", "metric: p99"), 8, "needs 'max_ms'"),
    "latency endpoint not http": (g("kind: latency", "endpoint: ftp://x", "max_ms: 5"), 9, "not an http"),
    "requests with logged metric": (g("kind: latency", "metric: p", "max_ms: 5", "requests: 3"), 11, "only to a"),
    "command without run": (g("kind: command"), 8, "needs 'run'"),
    "command run empty": (g("kind: command", "run: []"), 9, "run is empty"),
    "command run number": (g("kind: command", "run: [python, 3]"), 9, "non-empty text"),
    "timeout zero": (g("kind: command", "run: [x]", "timeout: 0"), 10, "out of range"),
    "safety metric and run": (g("kind: safety", "metric: s", "run: [x]", "min: 0.9"), 8, "not both"),
    "bad gate name": (g("kind: command", "name: 'eval suite!'", "run: [x]"), 9, "gate name"),
    "duplicate gate names": (
        g("kind: threshold", "metric: a", "min: 1") + g("kind: threshold", "metric: a", "max: 2"),
        11,
        "two gates named 'threshold-a'",
    ),
    "gates for unpinned alias": ("        []\n      canary:\n" + g("kind: command", "run: [x]"), 10, "not pinned"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_gate_is_reported_at_its_line(case: str) -> None:
    text, line, words = CASES[case]
    with pytest.raises(InvalidPins) as err:
        pins.loads(HEAD + text, "model_pins.yaml")
    assert any(p.line == line and words in p.message + p.fix for p in err.value.problems), str(err.value)


def test_gates_merge_defaults_and_model_tables_in_order() -> None:
    text = (
        "version: 1\ndefaults:\n  gates:\n    '*': [{kind: threshold, metric: a, min: 0.1}]\n"
        "    champion: [{kind: regression, metric: a}]\n"
        "models:\n  m:\n    aliases: {champion: 1, challenger: 2}\n    gates:\n"
        "      '*': [{kind: command, run: [python, scripts/gates/eval_suite.py]}]\n"
        "      champion: [{kind: latency, metric: p99_ms, max_ms: 50}]\n"
    )
    p = pins.loads(text)
    assert [g.name for g in p.gates_for("m", "champion")] == [
        "threshold-a",
        "regression-a",
        "eval_suite",
        "latency-p99_ms",
    ]
    assert [g.name for g in p.gates_for("m", "challenger")] == ["threshold-a", "eval_suite"]


def test_gate_with_invalid_gates_exits_2_and_writes_nothing(client, proxy, tmp_path):
    model = unique("bad-gate")
    pins_file = tmp_path / "model_pins.yaml"
    pins_file.write_text(HEAD.replace("  m:", f"  {model}:") + "        - kind: threshold\n          metric: a\n")
    result = run("--pins", pins_file, "--tracking-uri", proxy.url, "gate")
    assert result.returncode == 2
    assert f"{pins_file}:8: threshold gate needs 'min' or 'max'" in result.stderr
    assert proxy.log == []
