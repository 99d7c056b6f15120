"""Gates end at their timeout whatever the script or endpoint does, and their output is bounded.

Gate scripts are real processes; the latency endpoint is a real socket on loopback that
trickles one byte a second (it stands in for a model server that hangs mid-answer).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelpins.gates import GateError, Subject, Target
from modelpins.gates.builtin import latency
from modelpins.gates.command import command
from modelpins.pins import Gate
from tests.gates.support import write

SLACK = 2.0  # seconds a gate may take past its timeout


def target(base_dir: Path) -> Target:
    subject = Subject("m", 2, has_run=False)
    return Target("champion", subject, 1, {}, "http://127.0.0.1:9", base_dir)


def run_gate(tmp_path: Path, script: str, timeout: float) -> tuple[float, object]:
    write(tmp_path / "gate.py", script)
    gate = Gate("command", "g", run=("python", "gate.py"), timeout=timeout)
    started = time.monotonic()
    try:
        outcome: object = command(gate, target(tmp_path))
    except GateError as exc:
        outcome = exc
    return time.monotonic() - started, outcome


def test_detached_grandchild_holding_stdout_does_not_outlive_the_timeout(tmp_path):
    script = """
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(60)"])
        time.sleep(60)
        """
    elapsed, outcome = run_gate(tmp_path, script, timeout=2)

    assert elapsed < 2 + SLACK
    assert isinstance(outcome, GateError) and str(outcome).startswith("timed out after 2s and was killed")


def test_script_that_exits_but_leaves_a_child_on_stdout_gives_its_verdict(tmp_path):
    marker = tmp_path / "grandchild.pid"
    script = f"""
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(60)"])
        open({str(marker)!r}, "w").write(str(child.pid))
        print('{{"passed": true, "detail": "ok"}}', flush=True)
        """
    elapsed, outcome = run_gate(tmp_path, script, timeout=30)

    assert elapsed < 1 + SLACK
    assert not isinstance(outcome, GateError), outcome
    assert outcome.passed is True  # type: ignore[attr-defined]
    subprocess.run(["kill", "-9", marker.read_text()], check=False)


def test_verdict_after_more_than_a_mebibyte_of_log_is_read(tmp_path):
    script = """
        import sys
        for i in range(40_000):
            print(f"evaluating case {i}: " + "x" * 40)
        print('{"passed": true, "value": 0.93, "detail": "all cases"}')
        """
    _, outcome = run_gate(tmp_path, script, timeout=60)

    assert not isinstance(outcome, GateError), outcome
    assert (outcome.passed, outcome.value, outcome.detail) == (True, 0.93, "all cases")  # type: ignore[attr-defined]


def test_800_mib_of_log_does_not_grow_memory(tmp_path):
    """The gate runs in a child process whose peak RSS, after its imports, grows by a few MiB, not the log's size."""
    write(
        tmp_path / "gate.py",
        """
        import sys
        line = b"y" * 1023 + b"\\n"
        block = line * 1024
        for _ in range(800):
            sys.stdout.buffer.write(block)
        sys.stdout.buffer.write(b'{"passed": false, "detail": "too noisy"}\\n')
        """,
    )
    probe = f"""
import json, resource, sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from tests.faults.test_gate_limits import target
from modelpins.gates.command import command
from modelpins.pins import Gate
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = command(Gate("command", "g", run=("python", "gate.py"), timeout=120), target(Path({str(tmp_path)!r})))
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps([result.passed, result.detail, grown]))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=180, check=True)
    passed, detail, grown_kib = json.loads(out.stdout)
    assert (passed, detail) == (False, "too noisy")
    assert grown_kib < 32 * 1024, f"peak RSS grew by {grown_kib // 1024} MiB reading 800 MiB of log"


@pytest.fixture
def trickle() -> Iterator[str]:
    """An endpoint that answers one byte a second: headers for /headers, the body for /body."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            request = conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
            data = head
            if b" /body" in request:  # headers at once, then the body byte by byte
                conn.sendall(head)
                data = b"x" * 100
            for i in range(len(data)):
                if stop.wait(1):
                    return
                try:
                    conn.sendall(data[i : i + 1])
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    server.close()


@pytest.mark.parametrize("part", ["headers", "body"])
def test_latency_gate_against_a_one_byte_per_second_endpoint_ends_at_its_timeout(tmp_path, trickle, part):
    gate = Gate("latency", "p99", endpoint=f"{trickle}/{part}", requests=5, max=500, timeout=3)
    started = time.monotonic()

    with pytest.raises(GateError) as err:
        latency(gate, target(tmp_path))

    assert time.monotonic() - started < 3 + SLACK
    assert str(err.value) == f"request 1 of 5 to {trickle}/{part} timed out (budget 3s)"


def test_latency_gate_budget_spans_all_requests(tmp_path):
    """Each answer is quick but slower than budget/requests: the gate stops when the budget is spent."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            time.sleep(0.4)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    gate = Gate("latency", "p99", endpoint=url, requests=50, max=5000, timeout=2)
    started = time.monotonic()
    try:
        with pytest.raises(GateError) as err:
            latency(gate, target(tmp_path))
    finally:
        server.shutdown()
        server.server_close()

    assert time.monotonic() - started < 2 + SLACK
    assert "timed out" in str(err.value) and "of 50" in str(err.value)
