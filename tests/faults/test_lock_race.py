"""Three applies break the same stale lock at once: never two hold it together.

A deterministic race harness: three contenders run in threads against the real MLflow server,
but only one at a time moves. Before each registry request (and between the steps of its
work while it holds the lock) a contender stops and a seeded scheduler picks who goes next,
so every trial is one reproducible interleaving of real requests. 200 seeds, 200 interleavings.
A contender that waits for the lock (the lock's poll sleep) is parked until another one writes,
so the trials spend their requests on the race rather than on polling.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from modelpins.registry import MlflowRegistry, RegisteredModel
from modelpins.registry_mutex import ApplyLock
from modelpins.tags import LOCK_MODEL
from tests.helpers import rest

# 200 interleavings on sqlite; on the postgres profile each request costs ~5x as much, so 40 there
# (bench/lock_race.py runs 200 racing applies on that backend)
TRIALS = 40 if os.environ.get("MODELPINS_TEST_BACKEND") == "postgres" else 200
CONTENDERS = ("alice", "bob", "carol")


class Scheduler:
    """Lets exactly one contender run between two of its stops; the next one is a seeded random pick."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.cv = threading.Condition()
        self.waiting: set[str] = set()
        self.done: set[str] = set()
        self.parked: set[str] = set()
        self.granted: str | None = None

    def stop(self, me: str, park: bool = False) -> None:
        with self.cv:
            if self.granted == me:
                self.granted = None
            self.waiting.add(me)
            if park:
                self.parked.add(me)
            self.cv.notify_all()
            self.cv.wait_for(lambda: self.granted == me)

    def wake(self) -> None:
        with self.cv:
            self.parked.clear()

    def finish(self, me: str) -> None:
        with self.cv:
            if self.granted == me:
                self.granted = None
            self.done.add(me)
            self.cv.notify_all()

    def run(self, names: tuple[str, ...]) -> None:
        with self.cv:
            while len(self.done) < len(names):
                settled = lambda: self.granted is None and all(n in self.waiting or n in self.done for n in names)  # noqa: E731
                assert self.cv.wait_for(settled, timeout=60), "a contender neither stopped nor finished"
                if len(self.done) == len(names):
                    return
                ready = sorted(self.waiting - self.parked)
                if not ready:  # every one waits on another: let them all look again
                    self.parked.clear()
                    ready = sorted(self.waiting)
                pick = self.rng.choice(ready)
                self.parked.discard(pick)
                self.waiting.discard(pick)
                self.granted = pick
                self.cv.notify_all()


class Scheduled:
    """The registry adapter, stopping for the scheduler before each request."""

    def __init__(self, url: str, scheduler: Scheduler, me: str):
        self.registry, self.scheduler, self.me = MlflowRegistry(url), scheduler, me

    def _step(self, write: bool, method: Callable[..., Any], *args: Any) -> Any:
        self.scheduler.stop(self.me)
        try:
            return method(*args)
        finally:
            if write:
                self.scheduler.wake()  # the lock may have changed: waiters look again

    def registered_model(self, name: str) -> RegisteredModel | None:
        return self._step(False, self.registry.registered_model, name)

    def create_registered_model(self, name: str, tags: Mapping[str, str], description: str = "") -> bool:
        return self._step(True, self.registry.create_registered_model, name, tags, description)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._step(True, self.registry.set_registered_model_tag, name, key, value)

    def delete_registered_model(self, name: str) -> None:
        self._step(True, self.registry.delete_registered_model, name)


local = threading.local()  # the contender and scheduler of the thread calling the lock's poll sleep


def parking_sleep(seconds: float) -> None:
    if getattr(local, "me", None):
        local.scheduler.stop(local.me, park=True)
    else:
        REAL_SLEEP(seconds)


REAL_SLEEP = time.sleep


def plant_stale_lock(url: str) -> None:
    tags = {"token": "died", "actor": "dave", "host": "gone-runner", "pid": "4242", "expires": "1"}
    listed = [{"key": f"modelpins.lock.{k}", "value": v} for k, v in tags.items()]
    rest.call(url, "POST", "registered-models/create", json={"name": LOCK_MODEL, "tags": listed})


def trial(url: str, seed: int) -> int:
    """The most contenders that held the lock at the same time in one interleaving."""
    scheduler = Scheduler(seed)
    inside: set[str] = set()
    peak = [0]
    errors: list[BaseException] = []

    def contender(me: str) -> None:
        local.me, local.scheduler = me, scheduler
        try:
            scheduler.stop(me)
            lock = ApplyLock(Scheduled(url, scheduler, me), me, timeout=120, ttl=600, poll=0)
            lock.acquire()
            inside.add(me)
            peak[0] = max(peak[0], len(inside))
            for _ in range(2):  # its work: the others move meanwhile
                scheduler.stop(me)
            inside.discard(me)
            lock.release()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            scheduler.finish(me)

    threads = [threading.Thread(target=contender, args=(name,), daemon=True) for name in CONTENDERS]
    for t in threads:
        t.start()
    scheduler.run(CONTENDERS)
    for t in threads:
        t.join(timeout=30)
    assert not errors, f"seed {seed}: {errors[0]!r}"
    return peak[0]


@pytest.mark.timeout(1200)  # 200 trials of some 35 sequential requests each
def test_breaking_a_stale_lock_never_lets_two_hold_it(mlflow_server, monkeypatch) -> None:
    monkeypatch.setattr(time, "sleep", parking_sleep)
    url = mlflow_server.url
    overlaps = []
    for seed in range(TRIALS):
        plant_stale_lock(url)
        if trial(url, seed) > 1:
            overlaps.append(seed)
        leftover = [m["name"] for m in rest.call(url, "GET", "registered-models/search", params={"max_results": 1000})
                    .get("registered_models", []) if str(m["name"]).startswith(LOCK_MODEL)]  # fmt: skip
        for name in leftover:  # a holder the race cheated would leave its lock behind
            rest.call(url, "DELETE", "registered-models/delete", json={"name": name})

    assert overlaps == [], (
        f"two contenders held the lock at once with seeds {overlaps[:10]} ({len(overlaps)} of {TRIALS})"
    )
