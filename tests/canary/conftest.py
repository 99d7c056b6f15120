"""A real Prometheus (Debian's `prometheus`, loopback, 1 s scrape) scraping a loopback stand-in of vLLM's /metrics.

The stand-in (devkit.canary_metrics) is there because no GPU runs vLLM here: it exposes vLLM's real
metric names and types with values each test sets per deployment and track. Prometheus, its HTTP API
and its PromQL engine are the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.canary_metrics import PrometheusServer, Traffic, VllmStandIn, prometheus_binary
from tests.lifecycle.conftest import Repo as GitRepo

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


class Repo(GitRepo):
    """A fresh git repository holding the pins file; commits can be dated in the past (time spent at a step)."""

    def __init__(self, root: Path):
        super().__init__(root)
        root.mkdir()
        for args in (
            ("init", "-q", "-b", "main"),
            ("config", "user.email", "dev@example.com"),
            ("config", "user.name", "Dev"),
            ("config", "commit.gpgsign", "false"),
        ):
            self.git(*args)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")
