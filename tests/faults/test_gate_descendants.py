"""No process a gate starts outlives it: not even one that left with setsid and a second fork.

Gate scripts are real processes. Each marks its detached sleeper's command line with a token of
its own, and the test then searches every process on the machine (/proc) for that token.
On Linux the gate runs under modelpins/reaper.py (a child subreaper); elsewhere these tests skip.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import pytest

from modelpins.gates import GateError
from tests.faults.test_gate_limits import SLACK, run_gate

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the subreaper is Linux's")

DAEMON = """
import os, sys, time
pid = os.fork()
if pid == 0:  # the classic daemon: a new session, then a second fork, so init adopts the sleeper
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", "{token}"])
    os._exit(0)
os.waitpid(pid, 0)
"""


def survivors(token: str) -> list[str]:
    """The command lines of every process on the machine that carries `token`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if token.encode() in args:
            found.append(f"{cmdline.parent.name}: {b' '.join(args).decode(errors='replace')}")
    return found


def test_a_double_forked_setsid_sleeper_is_killed_at_the_deadline(tmp_path):
    token = f"modelpins-test-{uuid.uuid4().hex}"
    script = DAEMON.format(token=token) + "time.sleep(60)\n"

    elapsed, outcome = run_gate(tmp_path, script, timeout=2)

    assert elapsed < 2 + SLACK
    assert isinstance(outcome, GateError) and str(outcome).startswith("timed out after 2s and was killed")
    assert survivors(token) == []  # before: the sleeper ran on for two minutes, adopted by init


def test_a_gate_that_exits_leaving_a_daemon_gives_its_verdict_and_the_daemon_ends(tmp_path):
    token = f"modelpins-test-{uuid.uuid4().hex}"
    script = DAEMON.format(token=token) + 'print(\'{"passed": true, "detail": "ok"}\')\n'

    elapsed, outcome = run_gate(tmp_path, script, timeout=30)

    assert elapsed < 1 + SLACK
    assert not isinstance(outcome, GateError), outcome
    assert outcome.passed is True  # type: ignore[attr-defined]
    deadline = time.monotonic() + 2
    while survivors(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert survivors(token) == []


def test_a_program_that_cannot_start_is_still_named(tmp_path):
    from modelpins.gates.command import command
    from modelpins.pins import Gate
    from tests.faults.test_gate_limits import target

    gate = Gate("command", "g", run=("./no-such-gate.sh",), timeout=5)

    with pytest.raises(GateError) as err:
        command(gate, target(tmp_path))

    where = f"paths are relative to {tmp_path}"
    assert str(err.value) == f"cannot run './no-such-gate.sh': No such file or directory ({where})"
