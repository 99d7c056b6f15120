"""A loopback stand-in of vLLM's /metrics, and a real Prometheus server scraping it (tests, demo, bench).

No GPU runs vLLM here, so the stand-in exposes vLLM's real metric names and types (histograms and
counters, through prometheus-client) with values its caller sets per deployment and track: requests per
second, the share that end aborted (the error ratio), end-to-end latency, time to first token and tokens
per request. Each series carries the labels Prometheus's Kubernetes discovery gives a rendered pod
(namespace, app_kubernetes_io_name, modelpins_io_track): the stand-in plays every pod of every
deployment at once, scraped with honor_labels. Prometheus is Debian's `prometheus` binary (2.42),
started on loopback with a 1 s scrape interval.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

from devkit.devserver import free_port

LABELS = ("namespace", "app_kubernetes_io_name", "modelpins_io_track", "model_name")
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
TICK = 0.1


@dataclass
class Traffic:
    """What one track of one deployment serves, per second."""

    rps: float = 50.0
    error_ratio: float = 0.0
    latency: float = 0.8  # seconds, end to end
    ttft: float = 0.2  # seconds to the first token
    tokens: int = 100  # generated tokens per request


class VllmStandIn:
    """The /metrics endpoint; `set(namespace, deployment, track, Traffic)` changes what it reports from now on."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.success = Counter("vllm:request_success", "Finished requests", (*LABELS, "finished_reason"), registry=r)
        self.e2e = Histogram("vllm:e2e_request_latency_seconds", "E2E latency", LABELS, buckets=BUCKETS, registry=r)
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "TTFT", LABELS, buckets=BUCKETS, registry=r)
        self.tokens = Counter("vllm:generation_tokens", "Generated tokens", LABELS, registry=r)
        self.traffic: dict[tuple[str, str, str], Traffic] = {}
        self._owed: dict[tuple[str, str, str], float] = {}
        self._owed_errors: dict[tuple[str, str, str], float] = {}
        self._stop = threading.Event()
        self.port = free_port()
        self._server: WSGIServer | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set(self, namespace: str, deployment: str, track: str, traffic: Traffic) -> None:
        self.traffic[(namespace, deployment, track)] = traffic

    def _tick(self) -> None:
        for key, t in list(self.traffic.items()):
            owed = self._owed.get(key, 0.0) + t.rps * TICK
            n, self._owed[key] = int(owed), owed - int(owed)
            labels = (*key, "stand-in")
            owed_errors = self._owed_errors.get(key, 0.0) + n * t.error_ratio
            errors = min(n, int(owed_errors))
            self._owed_errors[key] = owed_errors - errors
            self.success.labels(*labels, "abort").inc(errors)
            self.success.labels(*labels, "stop").inc(n - errors)
            for _ in range(n):
                self.e2e.labels(*labels).observe(t.latency)
                self.ttft.labels(*labels).observe(t.ttft)
            self.tokens.labels(*labels).inc(n * t.tokens)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """The text format vLLM serves (prometheus-client 0.26 would escape ':' to '_' in OpenMetrics)."""
        body = generate_latest(self.registry)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)])
        return [body]

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            self._tick()

    def start(self) -> VllmStandIn:
        from wsgiref.simple_server import make_server

        self._server = make_server("127.0.0.1", self.port, self._app, ThreadingWSGIServer, handler_class=_SilentHandler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


@dataclass
class PrometheusServer:
    """Debian's Prometheus on loopback, scraping `targets` every second (honor_labels)."""

    root: Path
    targets: tuple[str, ...]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        binary = prometheus_binary()
        if binary is None:
            raise RuntimeError("prometheus is not installed (apt-get install prometheus)")
        self.port = self.port or free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "prometheus.yml"
        targets = ", ".join(f'"{t}"' for t in self.targets)
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - {{job_name: vllm, honor_labels: true, static_configs: [{{targets: [{targets}]}}]}}\n"
        )
        log = (self.root / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:  # noqa: S310 - loopback
                    if r.status == 200 and self._scraping():
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Prometheus did not become ready in {timeout:g}s; see {self.root / 'prometheus.log'}")

    def _scraping(self) -> bool:
        """Every target scraped once (discovery hands targets over about 5 s after the start)."""
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=2) as r:  # noqa: S310 - loopback
            active = json.load(r)["data"]["activeTargets"]
        if len(active) < len(self.targets) or any(t.get("health") != "up" for t in active):
            time.sleep(0.2)
            return False
        return True

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
