"""Session fixtures: one real MLflow tracking server (sqlite, loopback) for the whole run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelpins.devserver import DevServer
from tests.helpers.proxy import Proxy


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    # MODELPINS_TEST_SERVER_WAIT: seconds to wait for /health on a machine much busier than usual (default 300)
    wait = float(os.environ.get("MODELPINS_TEST_SERVER_WAIT", 300))
    server = DevServer(tmp_path_factory.mktemp("mlflow")).start(wait)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """A second MLflow server that delivers registry webhooks to loopback http receivers."""
    env = {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }
    server = DevServer(tmp_path_factory.mktemp("mlflow-webhooks"), env_extra=env).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prod_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """A second, separate MLflow server: the production environment's registry, apart from `mlflow_server`."""
    server = DevServer(tmp_path_factory.mktemp("mlflow-production")).start(timeout=300)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(mlflow_server: DevServer):  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server.url)


@pytest.fixture
def proxy(mlflow_server: DevServer) -> Iterator[Proxy]:
    """A recording proxy in front of the session server (count requests, inject faults)."""
    p = Proxy(mlflow_server.url).start()
    yield p
    p.stop()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path
