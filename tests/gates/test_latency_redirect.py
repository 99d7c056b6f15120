"""The latency gate fails closed on a redirect: it times the endpoint named, never a 3xx in its place.

The endpoint is a real HTTP server on loopback (http.server) that answers redirects: a loop to
itself, a redirect to a slow page, an auth proxy's login redirect, and a plain 200 for contrast.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from modelpins.gates import GateError, Subject, Target
from modelpins.gates.builtin import latency
from modelpins.pins import Gate

REDIRECTS = {  # path -> (status, Location)
    "/loop": (302, "/loop"),
    "/to-slow": (307, "/slow"),
    "/v1/models": (303, "https://login.example.com/oauth2/start?rd=%2Fv1%2Fmodels"),
    "/moved": (301, ""),
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/slow":
            time.sleep(2)
        status, location = REDIRECTS.get(self.path, (200, ""))
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def measured(url: str) -> object:
    gate = Gate("latency", "p99", endpoint=url, requests=5, max=500, timeout=10)
    target = Target("champion", Subject("m", 2, has_run=False), 1, {}, "http://127.0.0.1:9", Path("."))
    try:
        return latency(gate, target)
    except GateError as exc:
        return exc


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/loop", 302, "'/loop'"),
        ("/to-slow", 307, "'/slow'"),
        ("/v1/models", 303, "'https://login.example.com/oauth2/start?rd=%2Fv1%2Fmodels'"),
        ("/moved", 301, "''"),
    ],
)
def test_a_redirect_fails_the_gate_naming_where_it_points(endpoint, path, status, location):
    outcome = measured(endpoint + path)

    assert isinstance(outcome, GateError), outcome  # before: passed, timing only the 3xx
    assert str(outcome).startswith(f"request 1 of 5 to {endpoint}{path} answered HTTP {status} (a redirect to ")
    assert location in str(outcome) and "set 'endpoint' to the URL that serves the model" in str(outcome)


def test_a_plain_answer_is_still_measured(endpoint):
    outcome = measured(endpoint + "/ok")

    assert not isinstance(outcome, GateError), outcome
    assert outcome.passed is True  # type: ignore[attr-defined]
