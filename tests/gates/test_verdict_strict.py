"""A command gate's verdict is read as strictly as the pins file: a doubled key, NaN or a wrong type fails it.

Each script is a real process; the gate runs through the same code path `modelpins gate` uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelpins.gates import GateError, Subject, Target
from modelpins.gates.command import command
from modelpins.pins import Gate
from tests.gates.support import write


def verdict_of(tmp_path: Path, printed: str) -> object:
    write(tmp_path / "gate.py", f"print({printed!r})\n")
    subject = Subject("m", 2, has_run=False)
    target = Target("champion", subject, 1, {}, "http://127.0.0.1:9", tmp_path)
    try:
        return command(Gate("command", "g", run=("python", "gate.py"), timeout=30), target)
    except GateError as exc:
        return exc


@pytest.mark.parametrize(
    ("printed", "detail"),
    [
        ('{"passed": false, "passed": true}', "gives 'passed' more than once"),
        ('log line\n{"passed": true, "detail": "a", "detail": "b"}', "gives 'detail' more than once"),
        ('{"passed": true, "extra": {"k": 1, "k": 2}}', "gives 'k' more than once"),
        ('{"passed": true, "value": NaN}', "NaN, which is not a finite number"),
        ('{"passed": true, "value": 1e999}', "1e999, which is not a finite number"),
        ('{"passed": 1}', "'passed' must be true or false, not 1"),
        ('{"passed": true, "value": "0.9"}', "'value' must be a number or null, not '0.9'"),
        ('{"passed": true, "threshold": [0.9]}', "'threshold' must be a number, text or null, not [0.9]"),
        ('{"passed": true, "detail": 7}', "'detail' must be text, not 7"),
    ],
)
def test_a_verdict_that_is_not_strict_json_fails_the_gate_saying_why(tmp_path, printed, detail):
    outcome = verdict_of(tmp_path, printed)

    assert isinstance(outcome, GateError), outcome
    assert detail in str(outcome)


def test_a_well_formed_verdict_still_passes(tmp_path):
    outcome = verdict_of(tmp_path, '{"passed": true, "value": 0.93, "threshold": 0.88, "detail": "ok", "x": 1}')

    assert not isinstance(outcome, GateError), outcome
    assert outcome.passed is True and outcome.value == 0.93  # type: ignore[attr-defined]
