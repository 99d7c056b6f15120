"""Session fixtures: one real MLflow tracking server (loopback) for the whole run, on the registry profile chosen.

MODELPINS_TEST_BACKEND picks the profile (devkit.stores.Profile):
- `sqlite` (default): one worker, sqlite, artefacts on local disk;
- `postgres`: 4 workers on a throwaway PostgreSQL cluster, artefacts served from a bucket of moto's S3 server.
  `make test` runs the suites that depend on the backend a second time this way (BACKEND_SUITES in the Makefile).
Every server of the session (and `registry_profile.server(...)` in a test) is on that profile, its stores started
once per session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.devserver import DevServer
from devkit.stores import Profile
from tests.helpers.proxy import Proxy


def server_wait() -> float:
    """MODELPINS_TEST_SERVER_WAIT: seconds to wait for /health on a machine much busier than usual (default 300)."""
    return float(os.environ.get("MODELPINS_TEST_SERVER_WAIT", 300))


@pytest.fixture(scope="session")
def registry_profile() -> Iterator[Profile]:
    """The registry profile of this run (its stores started); on `postgres` this process's environment, and so
    every CLI the tests start, reaches the S3 store (MLFLOW_S3_ENDPOINT_URL and keys)."""
    profile = Profile(os.environ.get("MODELPINS_TEST_BACKEND", "sqlite") or "sqlite").start()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in profile.env.items():
            mp.setenv(key, value)
        yield profile
    profile.stop()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, registry_profile: Profile) -> Iterator[DevServer]:
    server = registry_profile.server(tmp_path_factory.mktemp("mlflow")).start(server_wait())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hook_server(tmp_path_factory: pytest.TempPathFactory, registry_profile: Profile) -> Iterator[DevServer]:
    """A second MLflow server that delivers registry webhooks to loopback http receivers."""
    env = {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }
    server = registry_profile.server(tmp_path_factory.mktemp("mlflow-webhooks"), env_extra=env).start(server_wait())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prod_server(tmp_path_factory: pytest.TempPathFactory, registry_profile: Profile) -> Iterator[DevServer]:
    """A second, separate MLflow server: the production environment's registry, apart from `mlflow_server`."""
    server = registry_profile.server(tmp_path_factory.mktemp("mlflow-production")).start(server_wait())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(mlflow_server: DevServer):
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
