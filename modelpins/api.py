"""validate, plan and apply: the pins file against a registry adapter passed in. Returns data, never prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from modelpins.audit.records import audit_key, audit_record
from modelpins.context import Context
from modelpins.errors import InvalidPins, OperationFailed, Problem
from modelpins.pins import PinsFile
from modelpins.plan import Change, between, diff
from modelpins.progress import Step, noop
from modelpins.registry import VersionInfo
from modelpins.text import version


class Registry(Protocol):
    reads: int
    writes: int

    def aliases(self) -> dict[str, dict[str, int]]: ...
    def versions(self, models: set[str]) -> dict[tuple[str, int], VersionInfo]: ...
    def set_alias(self, model: str, alias: str, version: int) -> None: ...
    def delete_alias(self, model: str, alias: str) -> None: ...
    def set_version_tag(self, model: str, version: int, key: str, value: str) -> None: ...


@dataclass
class Plan:
    pins: PinsFile
    changes: list[Change]
    actual: dict[str, dict[str, int]]
    versions: dict[tuple[str, int], VersionInfo]


@dataclass(frozen=True)
class Failure:
    change: Change
    error: str


@dataclass
class ApplyResult:
    """What an apply did, each change in exactly one state: applied (its alias moved and its audit record is
    written), failed (it was started, including those in flight when another failed, and did not take effect
    as a whole), or not started. Each list is in plan order, whatever order the changes finished in."""

    plan: Plan
    applied: list[Change] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    not_started: list[Change] = field(default_factory=list)

    @property
    def failed(self) -> Change | None:
        """The first change (in plan order) that failed."""
        return self.failures[0].change if self.failures else None

    @property
    def error(self) -> str:
        return self.failures[0].error if self.failures else ""

    @property
    def pending(self) -> list[Change]:
        """The changes not started (kept for callers of the earlier name)."""
        return self.not_started


def check_versions(
    pins: PinsFile,
    actual: dict[str, dict[str, int]],
    versions: dict[tuple[str, int], VersionInfo],
    wanted: list[tuple[str, int, int]],
) -> None:
    """Raise InvalidPins unless every model exists and every (model, version, line) is READY."""
    problems: list[Problem] = []
    for model in pins.models.values():
        if model.name not in actual and (model.aliases or not model.environments):
            problems.append(
                Problem(
                    pins.path,
                    model.line,
                    f"registered model '{model.name}' does not exist in MLflow",
                    "register it first, or fix the name",
                )
            )
    known: dict[str, list[int]] = {}
    for name, number in versions:
        known.setdefault(name, []).append(number)
    for name, number, line in wanted:
        if name not in actual:
            continue
        info = versions.get((name, number))
        if info is None:
            have = sorted(known.get(name, []))
            listed = ", ".join(map(str, have[-10:])) or "none"
            problems.append(
                Problem(
                    pins.path,
                    line,
                    f"version {number} of '{name}' does not exist in MLflow",
                    f"pin an existing version (newest: {listed})",
                )
            )
        elif info.status != "READY":
            problems.append(
                Problem(
                    pins.path,
                    line,
                    f"version {number} of '{name}' is {info.status}, not READY",
                    "wait for registration to finish, or pin another version",
                )
            )
    if problems:
        raise InvalidPins(problems)


def validate_live(pins: PinsFile, registry: Registry) -> None:
    """Every pinned model and version exists in the registry and is READY."""
    actual = registry.aliases()
    versions = registry.versions({m for m in pins.models if m in actual})
    check_versions(pins, actual, versions, [(m, p.version, p.line) for m, p in pins.pins()])


def resolve_targets(
    pins: PinsFile, changes: list[Change], actual: dict[str, dict[str, int]], registry: Registry
) -> dict[tuple[str, int], VersionInfo]:
    """The versions the set/move changes point at, read in one request; InvalidPins unless every model
    of the file exists and every target version is READY."""
    targets = [c for c in changes if c.after is not None]
    versions = registry.versions({c.model for c in targets if c.model in actual})
    check_versions(pins, actual, versions, [(c.model, c.after, c.line) for c in targets if c.after])
    return versions


def make_plan(pins: PinsFile, registry: Registry) -> Plan:
    """Read the registry's whole alias state (paged) and the versions the changes target."""
    actual = registry.aliases()
    changes = diff(pins, actual)
    return Plan(pins, changes, actual, resolve_targets(pins, changes, actual, registry))


def plan_against_base(
    head: PinsFile, base: PinsFile | None, registry: Registry | None = None
) -> tuple[list[Change], dict[str, dict[str, int]] | None, dict[tuple[str, int], VersionInfo]]:
    """What a pull request's file asks for relative to its base; with a registry, its alias state
    and the target versions (every model must exist, every version an alias moves to be READY)."""
    changes = between(base, head)
    if registry is None:
        return changes, None, {}
    actual = registry.aliases()
    return changes, actual, resolve_targets(head, changes, actual, registry)


def apply_plan(
    plan: Plan,
    registry: Registry,
    ctx: Context,
    extra_audit: Callable[[Change], dict[str, object]] | None = None,
    progress: Step = noop,
    parallel: int = 1,
) -> ApplyResult:
    """Carry out the plan with up to `parallel` changes at a time; stop at the first failure.

    Each change moves its alias first, then writes its audit record (see `carry_out`), so a record exists only
    for a move that took effect. Sets and moves all finish before the first delete starts, a plan names each
    alias once (so no two changes of one alias ever run together), and after a failure no further change
    starts: those in flight finish (applied or failed), the rest are not started. `parallel=1`: one change
    after the other, in plan order.
    """
    keys = [(c.model, c.alias) for c in plan.changes]
    assert len(set(keys)) == len(keys), "a plan names each alias once"
    outcome: dict[int, str | None] = {}  # plan index -> None (applied) or the error

    def one(change: Change) -> None:
        carry_out(registry, change, audit_record(change, ctx, extra_audit(change) if extra_audit else None))

    moves = [i for i, c in enumerate(plan.changes) if c.after is not None]
    deletes = [i for i, c in enumerate(plan.changes) if c.after is None]
    for phase in (moves, deletes):
        if all(e is None for e in outcome.values()):
            _run_bounded(plan.changes, phase, one, max(1, parallel), outcome, progress)
    return ApplyResult(
        plan,
        applied=[c for i, c in enumerate(plan.changes) if i in outcome and outcome[i] is None],
        failures=[Failure(c, e) for i, c in enumerate(plan.changes) if (e := outcome.get(i)) is not None],
        not_started=[c for i, c in enumerate(plan.changes) if i not in outcome],
    )


def carry_out(registry: Registry, change: Change, record: str) -> None:
    """Move one alias, then write its audit record on the version moved to (from, for a delete).

    The record follows the alias so that it never claims a move that did not happen. When the record cannot
    be written, the alias is put back where it was, so the change failed as a whole; if even that fails, the
    error says the alias moved without its record.
    """
    tagged = change.after if change.after is not None else change.before
    assert tagged is not None
    _move(registry, change.model, change.alias, change.after)
    try:
        registry.set_version_tag(change.model, tagged, audit_key(change.alias), record)
    except OperationFailed as exc:
        try:
            _move(registry, change.model, change.alias, change.before)
        except OperationFailed as undo:
            raise OperationFailed(
                f"{change.model}@{change.alias} moved to {version(change.after)} but its audit record could not "
                f"be written ({exc}) and moving it back to {version(change.before)} failed too ({undo}); "
                "the alias is unrecorded: set it back by hand, or record it"
            ) from None
        raise OperationFailed(f"audit record not written, so the alias was moved back: {exc}") from None


def _move(registry: Registry, model: str, alias: str, to: int | None) -> None:
    if to is None:
        registry.delete_alias(model, alias)
    else:
        registry.set_alias(model, alias, to)


def _run_bounded(
    changes: list[Change],
    order: list[int],
    one: Callable[[Change], None],
    parallel: int,
    outcome: dict[int, str | None],
    progress: Step,
) -> None:
    """Run changes[i] for i in `order`, at most `parallel` at once; none starts once one has failed.

    `outcome[i]`: None once changes[i] is applied, its error once it failed (in flight or not)."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    todo = iter(order)
    running: dict[Future[None], int] = {}
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="modelpins-apply") as pool:
        while True:
            while all(e is None for e in outcome.values()) and len(running) < parallel:
                i = next(todo, None)
                if i is None:
                    break
                running[pool.submit(one, changes[i])] = i
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: running[f]):
                i = running.pop(future)
                exc = future.exception()
                if exc is None:
                    outcome[i] = None
                    progress(f"{changes[i].model}@{changes[i].alias}")
                elif isinstance(exc, OperationFailed):
                    outcome[i] = str(exc)
                else:
                    for other in running:
                        other.cancel()
                    raise exc
