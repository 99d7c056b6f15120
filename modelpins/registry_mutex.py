"""The registry mutex (the apply lock): one `modelpins apply` at a time per registry, across machines.

The lock is a registered model named `modelpins.lock` in the registry itself.
Creating a registered model is atomic in MLflow (a second create fails with
RESOURCE_ALREADY_EXISTS), so whoever creates it holds the lock; its tags say who
(actor, host, pid, a random token) and until when. Releasing deletes it.

A holder renews the expiry while it works (every third of MODELPINS_LOCK_TTL,
default 600 s, as `apply` sets it). A lock past its expiry, or one left on this
host by a process that no longer exists, is stale and may be broken; the host
check assumes host names are unique among the machines that apply (CI runners
and containers get their own). Expiry compares clocks across machines: keep them on NTP.

Deleting the lock (breaking a stale one, or releasing one's own) is a compare-and-delete
on the holder's token. MLflow has no conditional delete, so the deleter first creates a
guard, the registered model `modelpins.lock.break.<token>`: creation is atomic, so one
process at a time may read the lock, find `token` still holding it, and delete it. Without
the guard two processes breaking the same stale lock could both read it, and the second
delete the lock the first had just taken. The guard is removed afterwards; one left by a
process that died is removed once it is stale by the same rules as the lock.
The registry adapter hides the lock model from every alias read, so plan,
validate and drift never see it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from modelpins.errors import OperationFailed
from modelpins.registry import RegisteredModel
from modelpins.tags import LOCK_GUARD as GUARD
from modelpins.tags import LOCK_MODEL
from modelpins.tags import LOCK_TAG as TAG

MIN_TTL = 30.0  # seconds (MODELPINS_LOCK_TTL): renewals every 10 s at least, never a busy loop


class LockStore(Protocol):
    """What the lock needs of the registry adapter (modelpins.registry.MlflowRegistry)."""

    def create_registered_model(self, name: str, tags: Mapping[str, str], description: str = "") -> bool: ...
    def registered_model(self, name: str) -> RegisteredModel | None: ...
    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...
    def delete_registered_model(self, name: str) -> None: ...


@dataclass(frozen=True)
class Holder:
    token: str
    actor: str
    host: str
    pid: int
    acquired: float
    expires: float

    def __str__(self) -> str:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.acquired))
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expires))
        return f"{self.actor} (host {self.host}, pid {self.pid}, since {since}, expires {until})"

    def stale(self, now: float) -> str:
        """Why this lock may be broken, or '' while its holder may still be working."""
        if now > self.expires:
            return "its expiry has passed"
        if self.host == socket.gethostname() and self.pid > 0 and not _alive(self.pid):
            return f"process {self.pid} no longer runs on this host"
        return ""

    def tags(self) -> dict[str, str]:
        fields = {
            "token": self.token,
            "actor": self.actor,
            "host": self.host,
            "pid": str(self.pid),
            "acquired": f"{self.acquired:.0f}",
            "expires": f"{self.expires:.0f}",
        }
        return {TAG + k: v for k, v in fields.items()}


class ApplyLock:
    """The registry mutex: `acquire` it (see there for the waiting rules), `release` it when done."""

    def __init__(
        self,
        registry: LockStore,
        actor: str,
        *,
        timeout: float = 300.0,
        ttl: float = 600.0,
        poll: float = 1.0,
        notify: Callable[[str], None] = lambda message: None,
    ):
        self.registry = registry
        self.actor = actor
        self.timeout = timeout
        if ttl < MIN_TTL:  # renewed every ttl/3: a tiny TTL spins, and its lock is always stale
            raise ValueError(f"lock TTL {ttl:g}s is below the minimum of {MIN_TTL:g}s")
        self.ttl = ttl
        self.poll = poll
        self.notify = notify
        self.holder: Holder | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> Holder:
        """Create the lock model; while another holds it wait up to `timeout`, then raise OperationFailed.

        A stale lock is deleted (with a message through `notify`) and creation tried again.
        """
        deadline = time.monotonic() + self.timeout
        waiting_for = ""
        while True:
            now = time.time()
            me = Holder(uuid.uuid4().hex, self.actor, socket.gethostname(), os.getpid(), now, now + self.ttl)
            if self._create(me):
                self.holder = me
                self._start_renewing()
                return me
            other = self.read()
            if other is None:
                continue  # released between our create and our read
            if other.token == me.token:  # our create went through but its answer was lost
                self.holder = me
                self._start_renewing()
                return me
            why = other.stale(time.time())
            if why:
                self.notify(f"breaking stale apply lock held by {other}: {why}")
                if self._delete_if(other.token):
                    continue
                # another process is deleting it at this moment: wait for the outcome like for any holder
            if time.monotonic() >= deadline:
                raise OperationFailed(
                    f"another apply holds the registry lock: {other}. Waited {self.timeout:g}s; "
                    f"run apply again when it has finished (a lock whose holder died expires at the time shown)"
                )
            if waiting_for != other.token:
                waiting_for = other.token
                self.notify(f"waiting up to {self.timeout:g}s for the apply lock held by {other}")
            time.sleep(min(self.poll, max(0.0, deadline - time.monotonic())))

    def release(self) -> None:
        """Delete the lock if it is still ours. Raises OperationFailed when the registry cannot be reached."""
        self._stop.set()
        if self._renewer:
            self._renewer.join(timeout=5)
        if self.holder is not None:
            token, self.holder = self.holder.token, None
            self._delete_if(token)

    def read(self, name: str = LOCK_MODEL) -> Holder | None:
        """Who holds the lock (or the guard `name`) now, or None when nobody does."""
        found = self.registry.registered_model(name)
        if found is None:
            return None
        tags = {k.removeprefix(TAG): v for k, v in found.tags.items()}
        return Holder(
            token=tags.get("token", ""),
            actor=tags.get("actor", "unknown"),
            host=tags.get("host", "unknown"),
            pid=int(tags.get("pid", "0") or 0),
            acquired=float(tags.get("acquired", "0") or 0),
            expires=float(tags.get("expires", "0") or 0),
        )

    def _create(self, me: Holder, name: str = LOCK_MODEL) -> bool:
        return self.registry.create_registered_model(
            name, me.tags(), "modelpins apply lock; see modelpins.registry_mutex"
        )

    def _delete_if(self, token: str) -> bool:
        """Delete the lock only while `token` holds it (see the module docstring); True when deleted."""
        guard = GUARD + token
        now = time.time()
        if not self._create(
            Holder(uuid.uuid4().hex, self.actor, socket.gethostname(), os.getpid(), now, now + self.ttl), guard
        ):
            other = self.read(guard)
            why = other.stale(time.time()) if other else ""
            if other is not None and why:
                self.notify(f"removing the lock-break guard left by {other}: {why}")
                self._delete(guard)
            return False  # another process is deleting this lock right now
        try:
            current = self.read()
            if current is None or current.token != token:
                return False
            self._delete(LOCK_MODEL)
            return True
        finally:
            self._delete(guard)

    def _delete(self, name: str) -> None:
        self.registry.delete_registered_model(name)

    def _start_renewing(self) -> None:
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name="modelpins-lock-renew", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            holder = self.holder
            if holder is None:
                return
            expires = f"{time.time() + self.ttl:.0f}"
            try:
                self.registry.set_registered_model_tag(LOCK_MODEL, TAG + "expires", expires)
            except OperationFailed:
                continue  # the apply itself will notice a registry that stopped answering


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
