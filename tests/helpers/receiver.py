"""Start `modelpins webhook serve` as a separate process and talk to it (signed posts, raw sockets)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from modelpins.drift import webhook
from tests.helpers.cli import start

SECRET = "s3cret-" + uuid.uuid4().hex


def serve(pins: Path, tracking_uri: str, report: Path, *extra: str, env: dict[str, str] | None = None):
    """(process, url) of a receiver listening on a free loopback port."""
    args = ("--pins", pins, "--tracking-uri", tracking_uri, "webhook", "serve", "--port", "0", "--report", report)
    proc = start(*args, *extra, env={"MODELPINS_WEBHOOK_SECRET": SECRET, **(env or {})})
    assert proc.stdout is not None
    url = proc.stdout.readline().strip().removeprefix("listening on ")
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise AssertionError(proc.communicate()[1])
    return proc, url


def stop(proc: subprocess.Popen[str]) -> str:
    """Stop the receiver; its stderr."""
    proc.terminate()
    return proc.communicate(timeout=10)[1]


def alias_event(model: str, alias: str = "champion", version: str = "1") -> bytes:
    data = {"name": model, "alias": alias, "version": version}
    return json.dumps({"entity": "model_version_alias", "action": "created", "data": data}).encode()


def signed(body: bytes, delivery: str | None = None, ts: str | None = None, secret: str = SECRET) -> dict[str, str]:
    delivery = delivery or str(uuid.uuid4())
    ts = ts or str(int(time.time()))
    return {
        webhook.DELIVERY_HEADER: delivery,
        webhook.TIMESTAMP_HEADER: ts,
        webhook.SIGNATURE_HEADER: webhook.signature(secret, delivery, ts, body),
    }


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return int(resp.status), json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"{}")


def raw(url: str, head: bytes, timeout: float = 10) -> bytes:
    """Send `head` (request line and headers, no body) on a raw socket; the answer's status line."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(head)
        return s.recv(65536).split(b"\r\n", 1)[0]


def proc_status(pid: int, field: str) -> int:
    """A number from /proc/PID/status (VmHWM and VmRSS in kB, Threads)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def wait_for_lines(report: Path, count: int, timeout: float = 30) -> list[dict]:
    """The report's JSON lines once there are at least `count`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if report.exists():
            lines = [json.loads(x) for x in report.read_text().splitlines()]
            if len(lines) >= count:
                return lines
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} reports in {timeout}s: {report.read_text() if report.exists() else ''}")
