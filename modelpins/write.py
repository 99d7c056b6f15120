"""The one write path: every command that moves aliases (apply, drift --fix apply) goes through `move_aliases`.

In order: take the registry's apply lock; make the plan again under it; the preflight
checks on that plan (artefacts match model_pins.lock; passing, current gate evidence or a
valid waiver for every move); then the moves, each with its audit record. A caller shows
its plan and asks for confirmation first; `preflight` is the same check it can run early.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from modelpins import api
from modelpins.context import Context
from modelpins.errors import GateFailed, InvalidInput, OperationFailed
from modelpins.gates import evidence
from modelpins.pins import PinsFile
from modelpins.plan import Change, summary, table
from modelpins.progress import Step, noop
from modelpins.registry import MlflowRegistry
from modelpins.registry_mutex import ApplyLock


@dataclass
class Moved:
    plan: api.Plan  # the plan made under the lock
    result: api.ApplyResult
    refused: list[evidence.Refusal] = field(default_factory=list)  # moves made with --skip-gates
    replanned: bool = False


def preflight(
    pins_path: Path, plan: api.Plan, registry: MlflowRegistry, skip_gates: bool, check_lock: bool = True
) -> list[evidence.Refusal]:
    """Raise unless every move may be made; return the moves without gate evidence that skip_gates lets through.

    `check_lock` False: the targets are copies in an environment's registry, checked against the lock by their
    source (modelpins.crossenv)."""
    from modelpins.integrity import artefact_lock  # model_pins.lock: refuse targets whose artefacts changed

    if check_lock:
        artefact_lock.enforce(
            pins_path, plan.pins, registry, [(c.model, c.after) for c in plan.changes if c.after is not None]
        )
    refused = evidence.unproven(plan)
    if refused and not skip_gates:
        count = len(refused)
        raise GateFailed(
            f"refusing to apply: {count} alias move{'s' if count != 1 else ''} without passing gates:\n"
            + "\n".join(f"  {r}" for r in refused)
            + "\nfix: run `modelpins gate` and fix what fails, then apply again "
            "(or pass --skip-gates to override; it is recorded in the audit tags)"
        )
    return refused


class Guard(Protocol):
    """A check made under the lock before the plan (apply's head-only rule, modelpins.audit.head), the fields
    it adds to each audit record, and its record once every change took effect."""

    def check(self) -> None: ...
    def audit_fields(self) -> dict[str, object]: ...
    def record(self) -> None: ...


@dataclass(frozen=True)
class Report:
    """How a move reports: `notify` for warnings and waits (stderr), `show` for a changed plan (default:
    `notify`), `progress` for each change done."""

    notify: Callable[[str], None] = lambda message: None
    show: Callable[[str], None] | None = None
    progress: Step = noop


@dataclass(frozen=True)
class MoveRequest:
    """One call of the write path: what to move, why, and how to report it.

    What: `desired` (read from `pins_path`); `confirmed`, the changes the user saw: when the plan under the lock
    differs it is shown and carried out (`accept_changed`) or refused; `check_lock` False for copies in an
    environment's registry (modelpins.crossenv checks them against the lock by their source); `parallel`
    changes in flight at once (api.apply_plan keeps their order guarantees); the apply lock's timeout and ttl.
    Why: `skip_gates`, a `reason` and `audit_extra` fields, all recorded in each move's audit record.
    `guard`: checked under the lock before anything is planned, recorded once every change took effect.
    """

    pins_path: Path
    desired: PinsFile
    confirmed: list[Change] | None = None
    accept_changed: bool = True
    check_lock: bool = True
    parallel: int = 1
    lock_timeout: float = 300.0
    lock_ttl: float = 600.0
    skip_gates: bool = False
    reason: str | None = None
    audit_extra: Callable[[Change], dict[str, object]] | None = None
    report: Report = field(default_factory=Report)
    guard: Guard | None = None


def move_aliases(request: MoveRequest, registry: MlflowRegistry, ctx: Context) -> Moved:
    """Make the registry match `request.desired` under the apply lock; see the module docstring for the steps."""
    r, notify = request, request.report.notify
    if ctx.dirty and ctx.ci:
        raise InvalidInput(
            f"{r.pins_path} has uncommitted changes: in CI only a committed pins file is applied, so its "
            "audit records name the commit and pull request that asked for it; commit the change first"
        )
    mutex = ApplyLock(registry, ctx.actor, timeout=r.lock_timeout, ttl=r.lock_ttl, notify=notify)
    mutex.acquire()
    try:
        if r.guard:
            r.guard.check()
        plan, replanned = _plan_again(r, registry)
        refused = preflight(r.pins_path, plan, registry, r.skip_gates, r.check_lock)
        if replanned:
            for refusal in refused:
                notify(f"warning: gates skipped for {refusal} (recorded in the audit tag)")
        gates = evidence.audit_fields(plan, refused)
        extra: dict[str, object] = {"reason": r.reason} if r.reason else {}
        extra |= r.guard.audit_fields() if r.guard else {}
        more = r.audit_extra or (lambda c: {})
        result = api.apply_plan(
            plan,
            registry,
            ctx,
            extra_audit=lambda c: {**gates(c), **extra, **more(c)},
            progress=r.report.progress,
            parallel=r.parallel,
        )
        if r.guard and not result.failures:
            _record(r.guard, notify)
    finally:
        _release(mutex, notify)
    return Moved(plan, result, refused, replanned)


def _plan_again(r: MoveRequest, registry: MlflowRegistry) -> tuple[api.Plan, bool]:
    """The plan made under the lock, and whether it differs from the one the user confirmed (then shown)."""
    plan = api.make_plan(r.desired, registry)
    replanned = r.confirmed is not None and plan.changes != r.confirmed
    if replanned:
        if not r.accept_changed:
            raise OperationFailed("the registry changed since the plan you confirmed; run apply again to see it")
        show = r.report.show or r.report.notify
        shown = [table(plan.changes)] if plan.changes else []
        show("\n".join(["The registry changed while waiting for the apply lock; the plan now is:", *shown]))
        show(summary(plan.changes))
    return plan, replanned


def _record(guard: Guard, notify: Callable[[str], None]) -> None:
    """The guard's record of a complete apply; a failure to write it is a warning, the moves are made."""
    try:
        guard.record()
    except OperationFailed as exc:
        notify(f"warning: every change is applied, but the applied commit could not be recorded ({exc})")


def _release(mutex: ApplyLock, notify: Callable[[str], None]) -> None:
    try:
        mutex.release()
    except OperationFailed as exc:
        notify(
            f"warning: could not release the apply lock ({exc}); the next apply breaks it "
            "once its holder's process is gone or its expiry has passed"
        )
