"""The registry mutex (the apply lock) in process, against the real server: one holder, stale locks broken."""

from __future__ import annotations

import time

import pytest

from modelpins.errors import OperationFailed
from modelpins.registry import MlflowRegistry
from modelpins.registry_mutex import ApplyLock
from tests.helpers import rest


def holder(url: str, field: str) -> str:
    found = rest.lock_holder(url)
    assert found is not None, "nobody holds the lock"
    return found[field]


@pytest.fixture
def registry(mlflow_server):
    registry = MlflowRegistry(mlflow_server.url)
    yield registry
    registry.delete_registered_model("modelpins.lock")


def test_a_second_holder_waits_then_fails_naming_the_first(registry: MlflowRegistry, mlflow_server) -> None:
    first = ApplyLock(registry, "alice", ttl=600)
    held = first.acquire()
    try:
        assert holder(mlflow_server.url, "token") == held.token
        with pytest.raises(OperationFailed, match=r"another apply holds the registry lock: alice \(host"):
            ApplyLock(MlflowRegistry(mlflow_server.url), "bob", timeout=0.2, poll=0.1).acquire()
    finally:
        first.release()
    assert rest.lock_holder(mlflow_server.url) is None


def test_a_lock_past_its_expiry_is_broken_and_taken(registry: MlflowRegistry, mlflow_server) -> None:
    stale = {"token": "dead", "actor": "carol", "host": "gone", "pid": "1", "acquired": "1", "expires": "1"}
    registry.create_registered_model("modelpins.lock", {f"modelpins.lock.{k}": v for k, v in stale.items()})
    notes: list[str] = []

    lock = ApplyLock(registry, "dave", timeout=5, notify=notes.append)
    held = lock.acquire()
    try:
        assert notes[0].startswith("breaking stale apply lock held by carol") and "its expiry has passed" in notes[0]
        assert holder(mlflow_server.url, "actor") == "dave"
        assert held.expires > time.time()
    finally:
        lock.release()
    assert registry.registered_model("modelpins.lock.break.dead") is None  # the lock-break guard is gone too


def test_release_leaves_a_lock_another_process_has_taken_since(registry: MlflowRegistry, mlflow_server) -> None:
    lock = ApplyLock(registry, "erin", ttl=600)
    lock.acquire()
    registry.delete_registered_model("modelpins.lock")  # broken meanwhile (say, by an operator) ...
    registry.create_registered_model(
        "modelpins.lock", {"modelpins.lock.token": "other", "modelpins.lock.expires": "9e9"}
    )

    lock.release()

    assert holder(mlflow_server.url, "token") == "other"  # ... and not deleted


def test_a_create_that_collides_with_a_model_deleted_meanwhile_is_a_conflict_not_an_error(mlflow_server) -> None:
    """MLflow answers a create whose insert hit an existing name by reading that model back; when its holder
    deleted it in between, the answer is RESOURCE_DOES_NOT_EXIST (404), not RESOURCE_ALREADY_EXISTS. For the lock
    that is "someone held it": acquire must try again, not stop the apply. A holder taking and releasing a name in
    a loop against another creating it: several workers (postgres profile) make the window easy to hit."""
    import threading

    name = f"modelpins.lock.collide.{time.time_ns()}"
    holder_registry, other = MlflowRegistry(mlflow_server.url), MlflowRegistry(mlflow_server.url)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            if holder_registry.create_registered_model(name, {}):
                holder_registry.delete_registered_model(name)

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    created = refused = 0
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if other.create_registered_model(name, {}):
                created += 1
                other.delete_registered_model(name)
            else:
                refused += 1
    finally:
        stop.set()
        thread.join(timeout=30)
        holder_registry.delete_registered_model(name)
    assert refused > 0  # the two collided: the test exercised the race
