"""apply: make the copies (idempotently, under each environment's apply lock), gate them, move the aliases."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from modelpins.crossenv.gating import gate_on_apply
from modelpins.crossenv.model import Copy, EnvPlan, Promotions
from modelpins.crossenv.planning import find_copy
from modelpins.crossenv.registries import uri
from modelpins.errors import InvalidPins, Problem
from modelpins.pins import AliasPin
from modelpins.plan import Change
from modelpins.registry import MlflowRegistry, VersionInfo
from modelpins.tags import COPY_SOURCE_TAG, OWN_TAG_PREFIX


def locked_digest(pins_path: Path, source: MlflowRegistry, c: Copy, info: VersionInfo) -> str:
    """The source version's digest in model_pins.lock, checked against its artefacts now, to carry onto
    the copy; "" when the lock does not hold the source. InvalidPins (exit 2) when they no longer match."""
    from modelpins.integrity import artefact_lock as lock
    from modelpins.integrity.artifacts import Reader

    whole = lock.read(lock.path_for(pins_path))
    key = (info.model, info.version)
    found = whole.environment(c.source.environment) if whole else None
    if whole is not None and found is not None and key not in found.entries:
        found = whole  # locked in the file's own section (the command's registry)
    entry = found.entries.get(key) if found else None
    if found is None or entry is None:
        return ""
    problems = lock.verify(found, [key], {key: info}, Reader(source, source.tracking_uri), lock.verify_mode())
    if problems:
        raise InvalidPins(problems)
    return entry.digest


@dataclass
class Applied:
    environment: str
    copied: list[Copy]
    moved: Any  # write.Moved


def copy_version(
    target: MlflowRegistry, source_registry: MlflowRegistry, c: Copy, info: VersionInfo, digest: str = ""
) -> VersionInfo:
    """The copy, as `MlflowClient.copy_model_version` makes it: one create_registered_model (when missing) and
    one create_model_version with the source's run, run link, description and tags, plus the provenance tag."""
    same = uri(source_registry) == uri(target)  # one server: models:/ names the source, as MLflow's copy does
    if same:
        source = f"models:/{info.model}/{info.version}"
    elif info.source.startswith(("models:", "runs:", "mlflow-artifacts:")):  # names resolved by the source server
        source = source_registry.download_uri(info.model, info.version)
    else:  # a storage location already (s3://, gs://, ...): what get-download-uri would answer
        source = info.source
    tags = {k: v for k, v in info.tags.items() if not k.startswith(OWN_TAG_PREFIX)}
    tags[COPY_SOURCE_TAG] = c.source.tag(digest)
    target.create_model(c.target)
    return target.create_version(
        c.target, source, run_id=info.run_id, tags=tags, run_link=info.run_link, description=info.description
    )


def apply(
    pins_path: Path,
    promos: Promotions,
    registries: Mapping[str, MlflowRegistry],
    ctx: Any,
    *,
    skip_gates: bool = False,
    lock_timeout: float = 300.0,
    lock_ttl: float = 600.0,
    notify: Callable[[str], None] = lambda message: None,
    guards: Mapping[str, Any] | None = None,
) -> list[Applied]:
    """Each environment in order: its copies (under its apply lock), gates on them, then its alias moves.

    `guards`: each environment's head-only rule (a write.Guard, modelpins.audit.head), checked under its lock
    before the copies and the moves, and recorded once every move in that environment took effect."""
    from modelpins import write
    from modelpins.registry_mutex import ApplyLock

    held = {w.pin for w in promos.refused}
    done: list[Applied] = []
    made: dict[tuple[str, str, str], VersionInfo] = {}
    for ep in promos.envs:
        copied: list[Copy] = []
        guard = (guards or {}).get(ep.environment)
        ep = _hold(ep, held)
        aliases = {name: dict(m.aliases) for name, m in ep.view.models.items()}
        if ep.copies:
            lock = ApplyLock(ep.registry, ctx.actor, timeout=lock_timeout, ttl=lock_ttl, notify=notify)
            lock.acquire()
            try:
                if guard:
                    guard.check()  # an older commit than the environment's registry last applied copies nothing
                current = ep.registry.versions({c.target for c in ep.copies})
                for c in ep.copies:
                    src_reg = registries[c.source.environment]
                    info = made.get((c.model, c.source.environment, _alias_of(promos, c)))
                    info = info or c.source_info or src_reg.version(c.source.model, c.source.version)
                    if info is None:
                        raise InvalidPins([_missing_source_now(pins_path, c)])
                    found = find_copy(current, c.target, c.source, info)
                    if found is None:
                        digest = locked_digest(pins_path, src_reg, c, info)
                        found = copy_version(ep.registry, src_reg, c, info, digest)
                        current[(found.model, found.version)] = found
                        copied.append(replace(c, version=found.version, exists=False))
                        notify(f"copied {c.source} -> {c.target} v{found.version} ({c.environment})")
                    made[(c.model, c.environment, c.alias)] = found
                    pin = aliases[c.target][c.alias]
                    aliases[c.target][c.alias] = AliasPin(pin.alias, found.version, pin.line)
            finally:
                lock.release()
        view = replace(ep.view, models={n: replace(m, aliases=aliases[n]) for n, m in ep.view.models.items()})
        gate_on_apply(ep, view, registries, ctx)
        extra = _audit_extra(promos, ep)
        request = write.MoveRequest(
            pins_path,
            view,
            check_lock=False,
            lock_timeout=lock_timeout,
            lock_ttl=lock_ttl,
            skip_gates=skip_gates,
            audit_extra=extra,
            report=write.Report(notify=notify),
            guard=guard,
        )
        moved = write.move_aliases(request, ep.registry, ctx)
        done.append(Applied(ep.environment, copied, moved))
        if moved.result.failed:
            break
    return done


def _hold(ep: EnvPlan, held: set[str]) -> EnvPlan:
    """The environment's plan without the copies the soak time holds back: their alias stays where it is."""
    keep = [c for c in ep.copies if f"{c.model}@{c.alias} in {c.environment}" not in held]
    if len(keep) == len(ep.copies):
        return ep
    models = {}
    for name, m in ep.view.models.items():
        aliases = dict(m.aliases)
        for c in ep.copies:
            if c not in keep and c.target == name:
                now = ep.plan.actual.get(name, {}).get(c.alias)
                if now is None:
                    aliases.pop(c.alias)
                else:
                    aliases[c.alias] = AliasPin(c.alias, now, aliases[c.alias].line)
        if aliases:
            models[name] = replace(m, aliases=aliases)
    view = replace(ep.view, models=models)
    return replace(ep, view=view, copies=keep)


def _alias_of(promos: Promotions, c: Copy) -> str:
    """The alias in the source environment a copy promotes from."""
    for ep in promos.envs:
        if ep.environment == c.source.environment:
            for name, m in ep.view.models.items():
                if name == c.source.model:
                    for alias, pin in m.aliases.items():
                        if pin.version == c.source.version:
                            return alias
    return ""


def _missing_source_now(pins_path: Path, c: Copy) -> Problem:
    return Problem(
        str(pins_path),
        c.line,
        f"{c.model}@{c.alias} in {c.environment}: the source {c.source} was deleted before the copy",
        "pin the source environment to an existing version; nothing was copied",
    )


def _audit_extra(promos: Promotions, ep: EnvPlan) -> Callable[[Change], dict[str, object]]:
    overrides = {(w.pin, w.source): w.override for w in promos.overridden}

    def extra(change: Change) -> dict[str, object]:
        c = next((c for c in ep.copies if (c.target, c.alias) == (change.model, change.alias)), None)
        if c is None:
            return {"environment": ep.environment}
        out: dict[str, object] = {"environment": ep.environment, "copied_from": c.source.as_json()}
        reason = overrides.get((f"{c.model}@{c.alias} in {c.environment}", _source_ref(promos, c)))
        if reason:
            out["soak_override"] = reason
        return out

    return extra


def _source_ref(promos: Promotions, c: Copy) -> str:
    return f"{c.source.environment}@{_alias_of(promos, c)}"
