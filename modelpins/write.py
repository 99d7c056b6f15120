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


def move_aliases(
    pins_path: Path,
    desired: PinsFile,
    registry: MlflowRegistry,
    ctx: Context,
    *,
    confirmed: list[Change] | None = None,
    accept_changed: bool = True,
    skip_gates: bool = False,
    lock_timeout: float = 300.0,
    lock_ttl: float = 600.0,
    reason: str | None = None,
    audit_extra: Callable[[Change], dict[str, object]] | None = None,
    check_lock: bool = True,
    notify: Callable[[str], None] = lambda message: None,
    show: Callable[[str], None] | None = None,
    progress: Step = noop,
    parallel: int = 1,
) -> Moved:
    """Make the registry match `desired` under the apply lock; see the module docstring for the steps.

    `confirmed`: the changes the user saw. When the plan under the lock differs, it is shown
    through `show` (default: `notify`) and carried out (`accept_changed`) or refused with OperationFailed.
    `parallel`: changes in flight at once (api.apply_plan keeps their order guarantees), all under the lock.
    """
    if ctx.dirty and ctx.ci:
        raise InvalidInput(
            f"{pins_path} has uncommitted changes: in CI only a committed pins file is applied, so its "
            "audit records name the commit and pull request that asked for it; commit the change first"
        )
    show = show or notify
    mutex = ApplyLock(registry, ctx.actor, timeout=lock_timeout, ttl=lock_ttl, notify=notify)
    mutex.acquire()
    try:
        plan = api.make_plan(desired, registry)
        replanned = confirmed is not None and plan.changes != confirmed
        if replanned:
            if not accept_changed:
                raise OperationFailed("the registry changed since the plan you confirmed; run apply again to see it")
            shown = [table(plan.changes)] if plan.changes else []
            show("\n".join(["The registry changed while waiting for the apply lock; the plan now is:", *shown]))
            show(summary(plan.changes))
        refused = preflight(pins_path, plan, registry, skip_gates, check_lock)
        if replanned:
            for r in refused:
                notify(f"warning: gates skipped for {r} (recorded in the audit tag)")
        gates = evidence.audit_fields(plan, refused)
        extra = {"reason": reason} if reason else {}
        more = audit_extra or (lambda c: {})
        result = api.apply_plan(
            plan,
            registry,
            ctx,
            extra_audit=lambda c: {**gates(c), **extra, **more(c)},
            progress=progress,
            parallel=parallel,
        )
    finally:
        try:
            mutex.release()
        except OperationFailed as exc:
            notify(
                f"warning: could not release the apply lock ({exc}); the next apply breaks it "
                "once its holder's process is gone or its expiry has passed"
            )
    return Moved(plan, result, refused, replanned)
