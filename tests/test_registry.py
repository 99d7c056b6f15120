"""The MLflow adapter in process, against the real server: one request per operation, counted; bounded retries."""

from __future__ import annotations

import hashlib

import pytest

from modelpins.errors import RegistryUnavailable
from modelpins.registry import MlflowRegistry
from modelpins.tags import LOCK_MODEL
from tests.helpers import rest
from tests.helpers.proxy import Fault, Proxy
from tests.helpers.seed import unique

ALIAS_WRITE = "POST /api/2.0/mlflow/registered-models/alias"


def test_aliases_and_versions_are_read_in_one_request_each(mlflow_server, proxy: Proxy) -> None:
    name = unique("adapter")
    rest.seed(mlflow_server.url, [name], versions=2, aliases={"champion": 2})
    registry = MlflowRegistry(proxy.url)

    aliases = registry.aliases()
    versions = registry.versions({name})

    assert aliases[name] == {"champion": 2}
    assert sorted(v for m, v in versions if m == name) == [1, 2]
    assert versions[(name, 2)].status == "READY"
    assert (registry.reads, registry.writes) == (2, 0)
    assert len(proxy.reads()) == 2


def test_the_apply_lock_model_is_not_an_alias_of_anything(mlflow_server) -> None:
    registry = MlflowRegistry(mlflow_server.url)
    assert registry.create_registered_model(LOCK_MODEL, {"modelpins.lock.token": "t"})
    try:
        assert not registry.create_registered_model(LOCK_MODEL, {})  # creation is atomic: the second one loses
        found = registry.registered_model(LOCK_MODEL)
        assert found is not None and found.tags["modelpins.lock.token"] == "t"
        assert LOCK_MODEL not in registry.aliases()
    finally:
        registry.delete_registered_model(LOCK_MODEL)
    assert registry.registered_model(LOCK_MODEL) is None
    registry.delete_registered_model(LOCK_MODEL)  # a missing one: nothing happens


def test_a_write_retried_after_5xx_counts_once_and_lands(mlflow_server, proxy: Proxy) -> None:
    name = unique("adapter")
    rest.seed(mlflow_server.url, [name], versions=2, aliases={"champion": 1})
    proxy.faults.append(Fault(status=502, count=2, match=ALIAS_WRITE))
    registry = MlflowRegistry(proxy.url, retries=3, backoff=0)

    registry.set_alias(name, "champion", 2)

    assert rest.state(mlflow_server.url, [name]) == {name: {"champion": 2}}
    assert registry.writes == 1  # one operation, whatever the retries
    assert sum(1 for m, p in proxy.log if f"{m} {p}".startswith(ALIAS_WRITE)) == 3


def test_retries_are_bounded_and_the_error_says_what_failed(mlflow_server, proxy: Proxy) -> None:
    proxy.faults.append(Fault(status=503, match="GET"))
    registry = MlflowRegistry(proxy.url, retries=2, backoff=0)

    with pytest.raises(RegistryUnavailable, match="failed 3 times on GET registered-models/search: HTTP 503"):
        registry.aliases()

    assert len(proxy.reads()) == 3


def test_artefacts_are_listed_and_streamed_with_their_bytes(mlflow_server, client) -> None:
    from tests.helpers.seed import seed_model

    name = unique("adapter")
    (run_id,) = seed_model(client, name, 1, files={"weights.bin": "abc", "sub/config.json": "{}"})
    registry = MlflowRegistry(mlflow_server.url)

    top = {f["path"]: f.get("is_dir", False) for f in registry.list_artifacts("run", run_id, "model")}
    data = b"".join(registry.stream_artifact("run", run_id, "model/weights.bin", 2))

    assert top == {"model/sub": True, "model/weights.bin": False}
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(b"abc").hexdigest()
    assert registry.reads == 2


def test_retries_wait_backoff_doubling_from_the_first_retry(mlflow_server, proxy: Proxy, monkeypatch) -> None:
    import urllib3.util.retry

    slept: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, "sleep", slept.append)
    proxy.faults.append(Fault(status=503, count=3, match="GET"))
    registry = MlflowRegistry(proxy.url, retries=3, backoff=0.5)

    registry.aliases()

    assert slept == [0.5, 1.0, 2.0]  # as before urllib3 did it: backoff * 2**(n-1) before the n-th retry
    assert registry.reads == 1
