"""Each way of not reaching MLflow has its own message, fit for the command that failed: a refused connection
(a real closed port), a host name that does not resolve (`.invalid`, reserved never to resolve), TLS (a
loopback server that speaks no TLS, and one with a self-signed certificate), a server that never answers, and
an HTTP refusal with an empty body."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from modelpins.errors import OperationFailed, RegistryUnavailable
from modelpins.registry import MlflowRegistry
from tests.helpers.cli import run
from tests.helpers.proxy import Proxy
from tests.helpers.seed import write_pins


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Empty(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def serve(server: ThreadingHTTPServer) -> Iterator[int]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def plain_http() -> Iterator[int]:
    yield from serve(ThreadingHTTPServer(("127.0.0.1", 0), Empty))


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[int]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), Empty)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from serve(server)


@pytest.fixture
def silent() -> Iterator[int]:
    """Accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    for conn in held:
        conn.close()
    listener.close()


def failure(uri: str, timeout: float | None = None) -> str:
    registry = MlflowRegistry(uri, retries=0, backoff=0, timeout=timeout)
    with pytest.raises(RegistryUnavailable) as caught:
        registry.aliases()
    return str(caught.value)


def test_a_refused_connection_says_refused_not_timeout() -> None:
    message = failure(f"http://127.0.0.1:{closed_port()}")
    assert "connection refused: nothing listens at that host and port" in message
    assert "no answer" not in message and "within" not in message


def test_a_host_that_does_not_resolve_says_dns() -> None:
    message = failure("http://mlflow.modelpins-test.invalid:5000")
    assert "the host name 'mlflow.modelpins-test.invalid' does not resolve (DNS lookup failed)" in message


def test_https_to_a_server_without_tls_says_so(plain_http: int) -> None:
    message = failure(f"https://127.0.0.1:{plain_http}")
    assert "TLS failed: the server does not speak TLS on that port (is the URI http://" in message


def test_a_self_signed_certificate_says_how_to_trust_it(self_signed: int) -> None:
    message = failure(f"https://127.0.0.1:{self_signed}")
    assert "TLS failed: the server's certificate cannot be verified (self-signed certificate)" in message
    assert "MLFLOW_TRACKING_SERVER_CERT_PATH" in message


def test_a_server_that_never_answers_is_a_timeout(silent: int) -> None:
    message = failure(f"http://127.0.0.1:{silent}", timeout=0.5)
    assert "no answer within 0.5s" in message and "refused" not in message


def test_an_empty_refusal_has_no_empty_detail(mlflow_server) -> None:
    proxy = Proxy(mlflow_server.url, authorization="Bearer right").start()
    try:
        with pytest.raises(OperationFailed) as caught:
            MlflowRegistry(proxy.url, retries=0, env={"MLFLOW_TRACKING_TOKEN": "wrong"}).aliases()
    finally:
        proxy.stop()
    assert "MLflow refused registered-models/search (HTTP 401); check MLFLOW_TRACKING_TOKEN" in str(caught.value)


@pytest.mark.parametrize("command", [["plan"], ["drift"]])
def test_the_message_fits_the_command(tmp_path: Path, command: list[str]) -> None:
    pins = write_pins(tmp_path / "model_pins.yaml", {"scorer": {"champion": 1}})
    uri = f"http://127.0.0.1:{closed_port()}"
    result = run("--pins", pins, "--tracking-uri", uri, *command, env={"MODELPINS_HTTP_RETRIES": "0"})
    assert result.returncode == 1, result.stderr
    assert "connection refused" in result.stderr
    assert "apply" not in result.stderr  # nothing about apply resuming, for a plan or a drift check
