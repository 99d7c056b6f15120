"""Latency gates measured with real HTTP requests to a small endpoint on loopback.

The endpoint stands in for a model server (none runs here): it sleeps a set time per
request and records what it received, so the test checks the requests really happened.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.gates.support import seed
from tests.helpers.cli import run
from tests.helpers.seed import unique


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    seen: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.command, self.path, body))
            if self.path.startswith("/broken"):
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            time.sleep(0.02 if self.path.startswith("/slow") else 0.005)
            data = b'{"predictions": [0.1]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_latency_gate_measures_real_requests(client, tmp_path, mlflow_server, endpoint):
    url, seen = endpoint
    model = unique("served")
    seed(client, model, 1, {})
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(
        f"""version: 1
models:
  {model}:
    aliases:
      champion: 1
      challenger: 1
      shadow: 1
    gates:
      champion:
        - kind: latency
          endpoint: "{url}/fast/{{model}}/{{version}}/invocations"
          body: '{{"inputs": [[1, 2, 3]]}}'
          requests: 20
          percentile: 95
          max_ms: 2000
      challenger:
        - kind: latency
          endpoint: {url}/slow
          requests: 5
          max_ms: 10
      shadow:
        - kind: latency
          endpoint: {url}/broken
          max_ms: 1000
"""
    )

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate", "--json")

    assert result.returncode == 1, result.stderr
    changes = {c["alias"]: c["gates"][0] for c in json.loads(result.stdout)["changes"]}
    fast = [s for s in seen if s[1].startswith("/fast")]
    assert len(fast) == 20
    assert {(m, p, b) for m, p, b in fast} == {("POST", f"/fast/{model}/1/invocations", b'{"inputs": [[1, 2, 3]]}')}
    assert changes["champion"]["passed"] is True and changes["champion"]["threshold"] == "p95 <= 2000 ms"
    assert 5 <= changes["champion"]["value"] < 2000 and "over 20 requests" in changes["champion"]["detail"]
    assert len([s for s in seen if s[1] == "/slow"]) == 5
    assert changes["challenger"]["passed"] is False and changes["challenger"]["value"] >= 20
    assert len([s for s in seen if s[1] == "/broken"]) == 1  # stops at the first failed request
    assert changes["shadow"]["passed"] is False and "answered HTTP 503" in changes["shadow"]["error"]


def test_unreachable_endpoint_fails_closed(client, tmp_path, mlflow_server):
    from devkit.devserver import free_port

    model = unique("down")
    seed(client, model, 1, {})
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(
        f"version: 1\nmodels:\n  {model}:\n    aliases:\n      champion: 1\n    gates:\n      champion:\n"
        f"        - kind: latency\n          endpoint: http://127.0.0.1:{free_port()}/\n          max_ms: 100\n"
    )
    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "gate")
    assert result.returncode == 1
    assert "request 1 of 50" in result.stdout and "failed: Connection refused" in result.stdout
