"""A canary's steps and analysis in the pins file: what `modelpins validate` accepts and refuses (exit 2, file:line).

Offline: the structural PromQL check and vLLM's metric names; Prometheus's own parser is in test_advance.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelpins import pins
from tests.canary.pins import pins_text
from tests.helpers.cli import run

GOOD = pins_text("chat", "assistant")


def validate(tmp_path: Path, text: str):
    path = tmp_path / "model_pins.yaml"
    path.write_text(text)
    return run("--pins", path, "validate", "--offline")


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_steps_with_minimum_times_and_an_analysis_are_read_into_typed_data(tmp_path: Path) -> None:
    assert validate(tmp_path, GOOD).returncode == 0
    s = pins.loads(GOOD).deployments["assistant"].strategy
    assert (s.steps, s.min_times, s.weight) == ((10, 50, 100), (), 10)  # 0s everywhere: no minimum
    assert s.analysis is not None
    assert [q.name for q in s.analysis.queries] == ["error-ratio", "e2e-p95", "tokens-per-second"]
    assert s.analysis.queries[1].tolerance == 0.5 and s.analysis.window == "4s"
    timed = pins.loads(pins_text("chat", "assistant", min_time="30m")).deployments["assistant"].strategy
    assert timed.min_times == (1800.0, 1800.0, 0.0)
    assert pins.loads(pins.dump(pins.loads(GOOD))) == pins.loads(GOOD)  # the canonical form keeps it all


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("- 100", "- {weight: 0}", "- {weight: 0}", "weight 0 is out of range"),
        ("min_time: 0s}\n        - {weight: 50", "min_time: 1hour}\n        - {weight: 50", "1hour", "duration"),
        ("{weight: 50,", "{weight: 5,", "{weight: 5,", "canary steps must increase"),
        ("vllm:generation_tokens_total", "vllm:generated_tokens_total", "vllm:generated", "vLLM does not export"),
        ('finished_reason="abort"}[$window]))', 'finished_reason="abort"}[$window])', "finished_reason", "not closed"),
        (
            "{$selector}[$window]))\n            threshold: 10",
            "[$window]))\n            threshold: 10",
            "tokens_total",
            "$selector",
        ),
        ("direction: above", "direction: up", "direction: up", "not one of: below, above"),
        ("weight: 10\n", "weight: 20\n", "weight: 20", "is not one of the steps"),
    ],
)
def test_bad_steps_and_queries_exit_2_at_their_line(tmp_path: Path, old: str, new: str, needle: str, words: str):
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    out = validate(tmp_path, text)
    assert out.returncode == 2, out.stdout + out.stderr
    assert words in out.stderr
    # the problem names the line of the bad value (a query's problem: its `query:` line)
    lines = {line_of(text, needle), line_of(text, needle) - 1, line_of(text, needle) - 2}
    assert any(f"model_pins.yaml:{n}:" in out.stderr for n in lines), out.stderr


def test_a_rolled_back_canary_at_weight_0_is_valid(tmp_path: Path) -> None:
    assert validate(tmp_path, GOOD.replace("weight: 10\n", "weight: 0\n")).returncode == 0
