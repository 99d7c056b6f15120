"""A real Prometheus (Debian's `prometheus`, loopback, 1 s scrape) scraping a loopback stand-in of vLLM's /metrics.

The stand-in (devkit.canary_metrics) is there because no GPU runs vLLM here: it exposes vLLM's real
metric names and types with values each test sets per deployment and track. Prometheus, its HTTP API
and its PromQL engine are the real ones.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.canary_metrics import PrometheusServer, Traffic, VllmStandIn, prometheus_binary

NAMESPACE = "ml-canary"
WINDOW = 4  # seconds: the analysis window of the tests' pins files
SETTLE = WINDOW + 1.5  # a change of traffic fills the window after this long


@pytest.fixture(scope="session")
def standin() -> Iterator[VllmStandIn]:
    s = VllmStandIn().start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def prometheus(standin: VllmStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    if prometheus_binary() is None:
        pytest.skip("prometheus is not installed (make sysdeps, or apt-get install prometheus)")
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), (standin.target,)).start()
    yield server
    server.stop()


def serve(standin: VllmStandIn, deployment: str, stable: Traffic, candidate: Traffic) -> None:
    standin.set(NAMESPACE, deployment, "stable", stable)
    standin.set(NAMESPACE, deployment, "candidate", candidate)


def settle() -> None:
    time.sleep(SETTLE)


class Repo:
    """A git repository holding the pins file; commits can be dated in the past (time spent at a step)."""

    def __init__(self, root: Path):
        self.root = root
        self.pins = root / "model_pins.yaml"
        root.mkdir()
        for args in (
            ("init", "-q", "-b", "main"),
            ("config", "user.email", "dev@example.com"),
            ("config", "user.name", "Dev"),
            ("config", "commit.gpgsign", "false"),
        ):
            self.git(*args)

    def git(self, *args: str, at: str | None = None) -> str:
        env = {**os.environ, "GIT_AUTHOR_DATE": at, "GIT_COMMITTER_DATE": at} if at else None
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True, env=env).stdout

    def commit(self, text: str, message: str, at: str | None = None) -> str:
        self.pins.write_text(text)
        self.git("add", "model_pins.yaml")
        self.git("commit", "-qm", message, at=at)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")
