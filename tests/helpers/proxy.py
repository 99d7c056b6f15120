"""A recording HTTP proxy on loopback, in front of the real MLflow server.

Counts requests at the HTTP level (so a test never trusts the tool's own numbers)
and can inject faults: answer 5xx, stall past a timeout, or drop connections.
With `authorization` set it stands for a server that needs credentials: a request
without exactly that Authorization header gets 401, as an MLflow behind auth answers.
With `tls` (a server-side ssl.SSLContext) it speaks HTTPS, e.g. requiring a client certificate (mutual TLS).
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = threading.Lock()


@dataclass
class Fault:
    status: int = 503
    count: int = 1_000_000
    delay: float = 0.0
    match: str = ""  # substring of "METHOD /path"; empty matches all
    after: int = 0  # let this many matching requests through first
    body: bytes = b""  # the answer's body (a stand-in for what an older server says, e.g. its /version)


@dataclass
class Proxy:
    target: str
    log: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    authorization: str = ""  # e.g. "Basic dXNlcjpwYXNz" or "Bearer TOKEN"; empty: no auth
    tls: ssl.SSLContext | None = None
    trace: list[tuple[float, float, str, str, bytes, int]] = field(default_factory=list)  # start, end, method,
    # path, body, status of every request answered (monotonic times: which requests overlapped)

    @property
    def url(self) -> str:
        assert self.server
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server.server_address[1]}"

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.log if m != "GET"]

    def reads(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.log if m == "GET"]

    def reset(self) -> None:
        self.log.clear()
        self.faults.clear()
        self.trace.clear()

    def start(self) -> Proxy:
        proxy = self
        target = urlsplit(self.target)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                proxy.log.append((self.command, path))
                started = time.monotonic()
                if proxy.authorization and self.headers.get("Authorization") != proxy.authorization:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                for fault in proxy.faults:
                    with FAULTS:  # requests arrive on several threads at once
                        hit = fault.count > 0 and fault.match in f"{self.command} {path}"
                        skipped = hit and fault.after > 0
                        fault.after -= 1 if skipped else 0
                        fault.count -= 1 if hit and not skipped else 0
                    if hit and not skipped:
                        if fault.delay:
                            time.sleep(fault.delay)
                        if fault.status:
                            self.send_response(fault.status)
                            self.send_header("Content-Length", str(len(fault.body)))
                            self.end_headers()
                            self.wfile.write(fault.body)
                            proxy.trace.append((started, time.monotonic(), self.command, path, body, fault.status))
                            return
                conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "authorization")
                }
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()
                proxy.trace.append((started, time.monotonic(), self.command, path, body, resp.status))

            do_GET = do_POST = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
