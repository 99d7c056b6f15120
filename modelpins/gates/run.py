"""Which alias moves to gate, and running their gates against the registry passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from modelpins.api import Registry, make_plan, plan_against_base
from modelpins.audit import canary as audit_canary
from modelpins.context import Context
from modelpins.gates import AliasCheck, GateError, GateReport, GateResult, Subject, Target, builtin, command, evidence
from modelpins.pins import ANY_ALIAS, Gate, PinsFile, load_at
from modelpins.plan import Change
from modelpins.progress import Step, noop
from modelpins.registry import VersionInfo


class GateRegistry(Registry, Protocol):
    def run(self, run_id: str) -> dict[str, Any] | None: ...
    def credentials(self) -> dict[str, str]: ...


Evaluator = Callable[[Gate, Target], GateResult]


def evaluator(gate: Gate) -> Evaluator:
    if gate.kind == "command":
        return command.command
    if gate.kind == "safety" and gate.run:
        return command.safety_script
    if gate.kind == "signature":
        from modelpins.gates.signature import signature  # deferred: loads model_signing when a gate needs it

        return signature
    return {
        "threshold": builtin.threshold,
        "safety": builtin.threshold,
        "regression": builtin.regression,
        "latency": builtin.latency,
    }[gate.kind]


def changes_to_gate(
    pins: PinsFile, registry: GateRegistry, base_ref: str | None
) -> tuple[list[Change], dict[str, dict[str, int]], dict[tuple[str, int], VersionInfo]]:
    """The set/move changes, the registry's aliases now, and the versions of the models they touch.

    With `base_ref`, the changes are what the pins file itself changed since that git ref
    (a pull request's promotion); without, what apply would do to the registry.
    """
    if base_ref is None:
        plan = make_plan(pins, registry)
        return [c for c in plan.changes if c.after is not None], plan.actual, plan.versions
    changes, actual, versions = plan_against_base(pins, load_at(pins.path, base_ref), registry)
    assert actual is not None  # a registry was given
    return [c for c in changes if c.after is not None], actual, versions


def run_gates(
    pins: PinsFile,
    changes: list[Change],
    actual: dict[str, dict[str, int]],
    versions: dict[tuple[str, int], VersionInfo],
    registry: GateRegistry,
    *,
    tracking_uri: str,
    ctx: Context,
    record: bool = True,
    base_ref: str | None = None,
    trusted: PinsFile | None = None,
    progress: Step = noop,
) -> GateReport:
    """Evaluate each change's gates (fail closed), then tag each gated candidate with the outcome.

    With `trusted` (the pins file of the base commit, checked out apart), the gate definitions
    and the scripts they run come from it and its directory; an alias whose gates `pins`
    defines differently (definitions or script bytes) is a gate change: its gates are not
    run, and the check says they run after merge.

    Reads one run per distinct candidate or baseline version; writes one tag per gated change.
    """
    base_dir = Path((trusted or pins).path).resolve().parent
    runs: dict[str, dict[str, Any] | None] = {}

    def subject(model: str, number: int) -> Subject:
        info = versions.get((model, number)) or VersionInfo(model, number, "UNKNOWN")
        if info.run_id and info.run_id not in runs:
            runs[info.run_id] = registry.run(info.run_id)
        run = runs.get(info.run_id) if info.run_id else None
        data = (run or {}).get("data", {})
        return Subject(
            model=model,
            version=number,
            run_id=info.run_id,
            metrics={m["key"]: float(m["value"]) for m in data.get("metrics", [])},
            params={p["key"]: p.get("value", "") for p in data.get("params", [])},
            tags=dict(info.tags),
            source=info.source,
            has_run=run is not None,
        )

    checks = []
    for change in changes:
        assert change.after is not None
        gates = pins.gates_for(change.model, change.alias) if change.model in pins.models else ()
        if trusted is not None:
            proposed, gates = gates, trusted_gates(trusted, change.model, change.alias)
            if changed_gates(proposed, pins, gates, trusted):
                reason = gate_change_reason(trusted)
                checks.append(
                    AliasCheck(
                        change.model, change.alias, change.before, change.after, change.line, (), deferred=reason
                    )
                )
                progress(f"{change.model}@{change.alias}")
                continue
        if not gates:
            checks.append(AliasCheck(change.model, change.alias, change.before, change.after, change.line, ()))
            progress(f"{change.model}@{change.alias}")
            continue
        now = actual.get(change.model, {})
        against = sorted({g.against or change.alias for g in gates if g.kind == "regression"})
        baselines = {a: subject(change.model, now[a]) if a in now else None for a in against}
        target = Target(
            change.alias,
            subject(change.model, change.after),
            now.get(change.alias),
            baselines,
            tracking_uri,
            base_dir,
            ctx.commit,
            registry.credentials(),
        )
        results = tuple(_evaluate(g, target) for g in gates)
        check = AliasCheck(
            change.model,
            change.alias,
            change.before,
            change.after,
            change.line,
            results,
            evidence.digest(gates, base_dir),
            {a: now.get(a) for a in against},
        )
        if record:
            canary = audit_canary.promoted_by(target.candidate.tags)
            value = evidence.record(check, ctx.commit, ctx.at, canary)
            registry.set_version_tag(change.model, change.after, evidence.tag_key(change.alias), value)
            check = replace(check, recorded=True)
        checks.append(check)
        progress(f"{change.model}@{change.alias}")
    return GateReport(pins.path, tuple(checks), base_ref, ctx.commit)


def _evaluate(gate: Gate, target: Target) -> GateResult:
    """One gate; an error of any kind is a failed result carrying the reason (fail closed)."""
    try:
        return evaluator(gate)(gate, target)
    except GateError as exc:
        return GateResult(gate.name, gate.kind, False, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a gate that breaks must block, not crash the run
        return GateResult(gate.name, gate.kind, False, error=f"unexpected {type(exc).__name__}: {exc}")


def trusted_gates(trusted: PinsFile, model: str, alias: str) -> tuple[Gate, ...]:
    """The gates the trusted pins file sets for `model@alias` (its defaults when it has no such model)."""
    if model in trusted.models:
        return trusted.gates_for(model, alias)
    return tuple(g for key in (ANY_ALIAS, alias) for g in trusted.defaults.get(key, ()))


def changed_gates(proposed: tuple[Gate, ...], pins: PinsFile, gates: tuple[Gate, ...], trusted: PinsFile) -> bool:
    """Whether the proposed gates differ from the trusted ones, in definition or in the files they run."""
    here, there = (Path(p.path).resolve().parent for p in (pins, trusted))
    return evidence.digest(proposed, here) != evidence.digest(gates, there)


def gate_change_reason(trusted: PinsFile) -> str:
    owners = ", ".join(trusted.owners) or "the platform owners"
    return (
        "gate change: the gates or their scripts differ from the base commit's; they run after merge. "
        f"Needs review by {owners} (CODEOWNERS)"
    )
