"""The drift webhook receiver behind `modelpins webhook serve`: an HTTP server with a limit on everything.

Each signed `model_version_alias.created` / `.deleted` delivery is checked (`webhook.Verifier`)
and compared with the pins file for that model: one JSON line is printed and appended to
the report, the answer carries it, and when the model drifted the `--on-drift` hook runs.

Limits, each with its own answer (the standard library's http.server, one request per
connection; every limit below is enforced here):
- body: `Content-Length` is required (411 when missing or chunked), must be plain ASCII
  digits and given once (400), at most `max_body` bytes (413, refused before reading);
- headers: the X-MLflow ones are checked, each once and in exact form, before the body is
  read (401); http.server bounds the request line and header count and size;
- time: a socket timeout on every read, and a deadline for the whole request (headers and
  body) after which the connection is cut, so a client that trickles bytes holds nothing;
- connections: at most `max_connections` at once; the next one gets 503 at once and is closed;
- hooks: run one at a time on their own thread with their own timeout (process group killed),
  never on the request path; a full hook queue answers 503 before anything is recorded;
- models: an event for a model the pins file does not manage is acknowledged (200, "ignored")
  without reading the registry: the receiver reads nothing on behalf of names it does not own;
- failures: MLflow retries a delivery answered 429, 500, 502, 503 or 504 (up to
  MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES times, 3 by default, with backoff; see mlflow/webhooks/delivery.py)
  and no other. A failure a retry can mend (the registry unavailable: 503; a pins or other error:
  500) releases the delivery id, so that retry is processed; a delivery the registry refuses for
  good (HTTP 400, e.g. a name MLflow rejects) is answered 422, which MLflow does not retry.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from modelpins import pins, proc
from modelpins.drift import webhook
from modelpins.errors import ModelPinsError, RegistryUnavailable
from modelpins.mlflow_http import Rejected
from modelpins.registry import MlflowRegistry

LENGTH_DIGITS = 10
HOOK_QUEUE = 100
RETRY_AFTER = "2"  # seconds, in a 503 answer (MLflow honours it before retrying)
BUSY = b'{"error": "too many connections; retry later"}'


@dataclass(frozen=True)
class Limits:
    max_body: int = 1024 * 1024  # bytes
    max_connections: int = 32
    request_timeout: float = 10.0  # seconds to receive a whole request
    read_timeout: float = 5.0  # seconds without a byte from the client
    hook_timeout: float = 60.0  # seconds for one --on-drift run


@dataclass(frozen=True)
class Config:
    pins: Path
    ref: str | None
    report: Path | None
    on_drift: tuple[str, ...]
    limits: Limits
    hook_env: dict[str, str] | None = None  # the hook's whole environment (None: ours, unfiltered)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Hooks:
    """The --on-drift command, run off the request path: one at a time, each within its timeout."""

    def __init__(self, argv: tuple[str, ...], timeout: float, env: dict[str, str] | None = None):
        self.argv = argv
        self.timeout = timeout
        self.env = env
        self.queue: queue.Queue[str] = queue.Queue(HOOK_QUEUE)
        threading.Thread(target=self._work, daemon=True, name="on-drift").start()

    def full(self) -> bool:
        return self.queue.full()

    def submit(self, line: str) -> None:
        try:
            self.queue.put_nowait(line)
        except queue.Full:
            log(f"on-drift: queue full ({HOOK_QUEUE} waiting), not run for: {line}")

    def _work(self) -> None:
        while True:
            self._run(self.queue.get())

    def _run(self, line: str) -> None:
        try:
            child = proc.start(list(self.argv), env=self.env)
        except OSError as exc:
            log(f"on-drift: cannot run {self.argv[0]!r}: {exc.strerror}")
            return
        _, err, finished = proc.collect(child, (line + "\n").encode(), self.timeout)
        tail = err.decode("utf-8", "replace").strip()[-500:]
        if not finished:
            log(f"on-drift: killed after {self.timeout:g}s{': ' + tail if tail else ''}")
        elif child.returncode != 0:
            log(f"on-drift: exited with status {child.returncode}{': ' + tail if tail else ''}")


class Busy(ModelPinsError):
    """The receiver cannot take this delivery now; MLflow should retry it."""


class Receiver:
    """What a verified delivery does: compare with the pins file, report, queue the hook."""

    def __init__(self, config: Config, verifier: webhook.Verifier, registry: MlflowRegistry):
        self.config = config
        self.verifier = verifier
        self.registry = registry
        self.hooks = Hooks(config.on_drift, config.limits.hook_timeout, config.hook_env) if config.on_drift else None
        self._reporting = threading.Lock()

    def deliver(self, headers: webhook.Headers, body: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, answer) for one delivery whose body has been read."""
        reason = self.verifier.check(headers, body)
        if reason == webhook.IN_PROGRESS:
            return 409, {"error": reason}
        if reason:
            return 401, {"error": reason}
        delivery = webhook.first(headers, webhook.DELIVERY_HEADER)
        try:
            outcome = self._process(body)
        except Exception as exc:  # noqa: BLE001 - every failure is answered, so MLflow retries
            self.verifier.release(delivery)
            if isinstance(exc, Busy):
                return 503, {"error": str(exc)}
            if isinstance(exc, RegistryUnavailable):
                log(f"error: {exc}")
                return 503, {"error": f"registry unavailable: {exc}"}
            if isinstance(exc, Rejected):  # for good: MLflow does not retry a 422
                log(f"refused delivery: {exc}")
                return 422, {"error": f"the registry refused to read this model: {exc}"}
            log(f"error: {type(exc).__name__}: {exc}" if not isinstance(exc, ModelPinsError) else f"error: {exc}")
            return 500, {"error": "the delivery could not be processed; see the receiver's log"}
        self.verifier.done(delivery)
        return outcome

    def _process(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            event = webhook.parse(body)
        except ValueError as exc:
            return 400, {"error": f"malformed payload: {exc}"}
        if event is None:
            return 202, {"ignored": "not an alias event"}
        if self.hooks and self.hooks.full():
            raise Busy(f"{HOOK_QUEUE} drift hooks are waiting; retry later")
        c = self.config
        p = pins.load_at(c.pins, c.ref) if c.ref else pins.load(c.pins)
        if p is None:
            raise ModelPinsError(f"{c.pins} does not exist at {c.ref}")
        source = f"{c.pins}@{c.ref}" if c.ref else str(c.pins)
        if event.model not in p.models:  # acknowledged, so MLflow does not retry; nothing read for it
            return 200, {"ignored": f"model not managed by {source}", "managed": False}
        found = self.registry.registered_model(event.model)
        result = webhook.report(event, p, dict(found.aliases) if found else {}, source)
        line = json.dumps(result, sort_keys=True)
        with self._reporting:
            print(line, flush=True)
            if c.report:
                with open(c.report, "a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        if result["drift"] and self.hooks:
            self.hooks.submit(line)
        return 200, result


class Handler(BaseHTTPRequestHandler):
    """One delivery per connection, within the limits (see the module docstring); `handler` binds it."""

    receiver: Receiver
    limits: Limits

    def setup(self) -> None:
        super().setup()
        self.expired = threading.Event()
        self.watchdog = threading.Timer(self.limits.request_timeout, self._cut)
        self.watchdog.daemon = True
        self.watchdog.start()

    def finish(self) -> None:
        self.watchdog.cancel()
        super().finish()

    def _cut(self) -> None:
        self.expired.set()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, *a: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.expired.is_set():
            return
        length, status, error = self._length()
        if error:
            self.answer(status, {"error": error})
            return
        bad = webhook.header_problem(self.headers)
        if bad:
            log(f"refused delivery from {self.client_address[0]}: {bad}")
            self.answer(401, {"error": bad})
            return
        body = self.rfile.read(length)
        self.watchdog.cancel()
        if self.expired.is_set() or len(body) != length:
            return  # the client was cut off or went away: no one to answer
        status, payload = self.receiver.deliver(self.headers, body)
        if status == 401:
            log(f"refused delivery from {self.client_address[0]}: {payload['error']}")
        self.answer(status, payload)

    def _length(self) -> tuple[int, int, str]:
        if self.headers.get("Transfer-Encoding"):
            return 0, 411, "send the body with Content-Length, not Transfer-Encoding"
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return 0, 411, "Content-Length is required"
        text = values[0]
        if len(values) > 1 or not (text.isascii() and text.isdigit() and len(text) <= LENGTH_DIGITS):
            return 0, 400, "Content-Length must be given once, as plain digits"
        if int(text) > self.limits.max_body:
            return 0, 413, f"body larger than {self.limits.max_body} bytes"
        return int(text), 0, ""

    def answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            if status == 503:
                self.send_header("Retry-After", RETRY_AFTER)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client left before the answer


def handler(receiver: Receiver, limits: Limits) -> type[BaseHTTPRequestHandler]:
    """The request handler class for `receiver`; its socket timeout is `limits.read_timeout`."""
    # `timeout` is applied to the socket by StreamRequestHandler.setup
    attrs = {"receiver": receiver, "limits": limits, "timeout": limits.read_timeout}
    return type("BoundHandler", (Handler,), attrs)


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer with a bound on concurrent connections and one-line error logs."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler_class: Callable[..., Any], max_connections: int):
        self.slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler_class)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            try:
                request.settimeout(1)
                head = (
                    "HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: "
                    + RETRY_AFTER
                    + "\r\n"
                )
                request.sendall(f"{head}Content-Length: {len(BUSY)}\r\nConnection: close\r\n\r\n".encode() + BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        log(f"connection from {client_address[0]} failed: {type(exc).__name__}: {exc}")


def serve(config: Config, verifier: webhook.Verifier, registry: MlflowRegistry, host: str, port: int) -> Server:
    """A bound server, ready for serve_forever()."""
    receiver = Receiver(config, verifier, registry)
    return Server((host, port), handler(receiver, config.limits), config.limits.max_connections)
