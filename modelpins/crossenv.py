"""Promotion across environments: each environment's registry, copies between them, order and soak time.

An environment with a `registry` keeps its own registered models (`prod.{model}` on one server,
or the same names on a server of its own). A pin `promote_from: staging@champion` says: this alias
points at a copy of the version staging's champion has. The plan resolves each environment in
promotion order, finds an earlier copy by its provenance tag (so a re-run never copies twice) or
predicts the version number a new copy gets; apply makes the copies as `copy_model_version` does
(source `models:/NAME/VERSION` on the same server, the source's storage location across servers;
run link and tags carried over), runs the target's gates on each copy with the source run's
evidence, then moves the aliases through the one write path (`write.move_aliases`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelpins import api
from modelpins.errors import GateFailed, InvalidInput, InvalidPins, Problem
from modelpins.pins import AliasPin, EnvPin, ModelPins, PinsFile
from modelpins.plan import Change, diff
from modelpins.redact import public_url
from modelpins.registry import MlflowRegistry, VersionInfo, environment_env
from modelpins.tags import COPY_SOURCE_TAG, OWN_TAG_PREFIX


@dataclass(frozen=True)
class Source:
    """The version a copy is made from: in which environment's registry, which model and version."""

    environment: str
    registry: str  # the source server's public URL
    model: str
    version: int

    def as_json(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "registry": self.registry,
            "model": self.model,
            "version": self.version,
        }

    def tag(self, digest: str = "") -> str:
        """The provenance tag of a copy; `digest`: the source's artefact digest from model_pins.lock, carried over."""
        found: dict[str, object] = {"registry": self.registry, "model": self.model, "version": self.version}
        return json.dumps(found | ({"lock_digest": digest} if digest else {}), sort_keys=True)

    def __str__(self) -> str:
        return f"{self.model} v{self.version} ({self.environment})"


@dataclass(frozen=True)
class Copy:
    """One copy a promote_from pin asks for: `source` into `target`, as version `version`."""

    model: str  # the name under `models`
    environment: str
    alias: str
    target: str  # the registered model in the environment's registry
    source: Source
    version: int  # the existing copy's number, or the number a new copy gets
    exists: bool
    line: int
    override: str = ""
    source_info: VersionInfo | None = field(default=None, compare=False)  # as the plan read it

    def as_json(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "model": self.target,
            "alias": self.alias,
            "source": self.source.as_json(),
            "version": self.version,
            "action": "reuse" if self.exists else "copy",
        }


@dataclass(frozen=True)
class Wait:
    """A pin the promotion order refuses for now: its version has not held the previous alias for the soak time."""

    path: str
    line: int
    pin: str  # model@alias in environment
    source: str  # environment@alias
    version: int
    since: float | None  # when it took the source alias; None: it does not hold it (yet)
    soak: float
    now: float
    override: str = ""

    @property
    def allowed_at(self) -> float | None:
        return None if self.since is None else self.since + self.soak

    def __str__(self) -> str:
        head = f"{self.path}:{self.line}: {self.pin} promotes version {self.version} of {self.source}"
        soak = duration(self.soak)
        if self.since is None:
            return (
                f"{head}, which {self.source} does not hold yet; the {soak} soak starts once it does "
                f"(apply it there first)\n  fix: wait, or add 'override: <reason>' to the pin (recorded)"
            )
        assert self.allowed_at is not None
        return (
            f"{head}, which it has held since {stamp(self.since)} ({duration(self.now - self.since)}); "
            f"the soak in {self.source.split('@')[0]} is {soak}: allowed from {stamp(self.allowed_at)} "
            f"({duration(self.allowed_at - self.now)} left)\n  fix: wait, or add 'override: <reason>' "
            "to the pin (recorded in the audit tag and the PR comment)"
        )


@dataclass
class EnvPlan:
    """One environment's part of the plan: its registry, its pins as a pins file of its own, the copies."""

    environment: str
    registry: MlflowRegistry
    view: PinsFile
    plan: api.Plan
    copies: list[Copy] = field(default_factory=list)


@dataclass
class Promotions:
    envs: list[EnvPlan]
    waits: list[Wait] = field(default_factory=list)  # every soak check, passed or not, with overrides

    @property
    def refused(self) -> list[Wait]:
        return [w for w in self.waits if not w.override and (w.since is None or w.now - w.since < w.soak)]

    @property
    def overridden(self) -> list[Wait]:
        return [w for w in self.waits if w.override and (w.since is None or w.now - w.since < w.soak)]

    def copy_for(self, environment: str, target: str, alias: str) -> Copy | None:
        for ep in self.envs:
            for c in ep.copies:
                if (c.environment, c.target, c.alias) == (environment, target, alias):
                    return c
        return None


# -- registries ---------------------------------------------------------------------------------


def has_default_pins(pins: PinsFile) -> bool:
    """Whether the file pins aliases in the command's registry itself (not only in environments')."""
    return any(m.aliases or not m.environments for m in pins.models.values())


def from_settings(
    pins: PinsFile, tracking_uri: str | None, default: Callable[[], MlflowRegistry]
) -> tuple[Promotions, dict[str, MlflowRegistry]] | None:
    """The environments' plan for a command, or None when the file pins nothing in environments."""
    import time

    if not pinned_environments(pins):
        return None
    registries = connect(pins, default() if tracking_uri else None)
    return make_plan(pins, registries, time.time()), registries


def locate(pins: PinsFile, registered: str, environment: str | None = None) -> tuple[str, str] | None:
    """(environment, model under `models`) whose registry names `registered`, e.g. `prod.credit-risk`
    (in `environment` only, when given: on separate servers the names can be the same)."""
    for m in pins.models.values():
        for env in m.environments:
            if environment and env != environment:
                continue
            reg = pins.environments[env].registry if env in pins.environments else None
            if reg is not None and reg.name(m.name) == registered:
                return env, m.name
    return None


def connect(
    pins: PinsFile, default: MlflowRegistry | None, env: Mapping[str, str] | None = None
) -> dict[str, MlflowRegistry]:
    """The adapter of every environment that has pins: its own server (with its own credentials) or the command's."""
    out: dict[str, MlflowRegistry] = {}
    for name in pinned_environments(pins):
        reg = pins.environments[name].registry
        assert reg is not None  # cross_check refuses pins in an environment without one
        if reg.tracking_uri is None or (default and default.tracking_uri == reg.tracking_uri.rstrip("/")):
            if default is None:
                raise InvalidInput(
                    f"environment '{name}' uses the command's MLflow server, and none is given: pass --tracking-uri "
                    f"or set MLFLOW_TRACKING_URI (or give environments.{name}.registry.tracking_uri)"
                )
            out[name] = default
        else:
            out[name] = MlflowRegistry(reg.tracking_uri, env=environment_env(name, env))
    return out


def pinned_environments(pins: PinsFile) -> list[str]:
    """Environments with pins, in promotion order, then in the order the file declares them."""
    used = {env for m in pins.models.values() for env in m.environments}
    order = [e for e in pins.promotion.order if e in used]
    return order + [e for e in pins.environments if e in used and e not in order]


def uri(registry: MlflowRegistry) -> str:
    return public_url(registry.tracking_uri)


# -- the plan ------------------------------------------------------------------------------------


def make_plan(pins: PinsFile, registries: Mapping[str, MlflowRegistry], now: float) -> Promotions:
    """Every environment's copies and alias moves, without writing; InvalidPins (exit 2) for a missing source."""
    resolved: dict[tuple[str, str, str], tuple[Source, VersionInfo | None]] = {}
    envs: list[EnvPlan] = []
    waits: list[Wait] = []
    problems: list[Problem] = []
    for name in _dependency_order(pins):
        registry = registries[name]
        template = pins.environments[name].registry
        assert template is not None
        models = [m for m in pins.models.values() if name in m.environments]
        actual = registry.aliases()
        versions = registry.versions({template.name(m.name) for m in models})
        copies: list[Copy] = []
        taken: dict[str, int] = {}
        aliases: dict[str, dict[str, AliasPin]] = {}
        for m in models:
            target = template.name(m.name)
            for alias, pin in m.environments[name].items():
                if pin.promote_from is None:
                    assert pin.version is not None
                    number = pin.version
                else:
                    src = resolved.get((m.name, pin.promote_from.environment, pin.promote_from.alias))
                    if src is None or src[1] is None:
                        problems.append(_missing_source(pins, m, pin, src[0] if src else None))
                        continue
                    source, info = src
                    found = find_copy(versions, target, source)
                    if found is None:
                        newest = max([v for (n, v) in versions if n == target] + [taken.get(target, 0)], default=0)
                        taken[target] = found_number = newest + 1
                    else:
                        found_number = found.version
                    copies.append(
                        Copy(
                            m.name,
                            name,
                            alias,
                            target,
                            source,
                            found_number,
                            found is not None,
                            pin.line,
                            pin.override,
                            info if info and info.status == "READY" else None,
                        )
                    )
                    waits += _soak(pins, m, pin, source, info, registries, now)
                    number = found_number
                aliases.setdefault(target, {})[alias] = AliasPin(alias, number, pin.line)
                here = Source(name, uri(registry), target, number)
                resolved[(m.name, name, alias)] = (here, versions.get((target, number)))
        view = environment_view(pins, name, aliases)
        planned = {(c.target, c.version) for c in copies if not c.exists}
        changes = diff(view, actual)
        _check_targets(view, actual, versions, changes, planned, problems)
        envs.append(EnvPlan(name, registry, view, api.Plan(view, changes, actual, versions), copies))
        for c in copies:  # a later environment promoting from this one reads the copy as its source
            if not c.exists:
                resolved[(c.model, name, c.alias)] = (Source(name, uri(registry), c.target, c.version), _pending(c))
    if problems:
        raise InvalidPins(problems)
    return Promotions(envs, waits)


def _pending(c: Copy) -> VersionInfo:
    """A copy this plan makes: known to later environments by its number, with its source's provenance."""
    return VersionInfo(c.target, c.version, "PENDING_COPY", tags={COPY_SOURCE_TAG: c.source.tag()})


def _dependency_order(pins: PinsFile) -> list[str]:
    """Environments so that each comes after every environment it promotes from (cycles are refused earlier)."""
    names = pinned_environments(pins)
    after: dict[str, set[str]] = {n: set() for n in names}
    for m in pins.models.values():
        for env, env_pins in m.environments.items():
            for p in env_pins.values():
                if p.promote_from and p.promote_from.environment in after and env in after:
                    after[env].add(p.promote_from.environment)
    out: list[str] = []
    while len(out) < len(names):
        ready = [n for n in names if n not in out and after[n] <= set(out)]
        if not ready:  # a cycle: cross_check names it; plan what can be planned
            ready = [n for n in names if n not in out][:1]
        out.append(ready[0])
    return out


def environment_view(pins: PinsFile, environment: str, aliases: dict[str, dict[str, AliasPin]]) -> PinsFile:
    """The environment's pins as a pins file of its own: registered names, resolved versions, the model's gates."""
    template = pins.environments[environment].registry
    assert template is not None
    models = {}
    for m in pins.models.values():
        target = template.name(m.name)
        if target in aliases:
            models[target] = ModelPins(
                name=target, aliases=aliases[target], kind=m.kind, owners=m.owners, gates=m.gates, line=m.line
            )
    return PinsFile(path=pins.path, models=models, owners=pins.owners, defaults=pins.defaults)


def find_copy(versions: Mapping[tuple[str, int], VersionInfo], target: str, source: Source) -> VersionInfo | None:
    """The earlier copy of `source` in `target`, by its provenance tag (the newest, should there be several)."""
    want = json.loads(source.tag())
    found = [
        info
        for (name, _), info in versions.items()
        if name == target and _provenance(info) == want and info.status != "FAILED_REGISTRATION"
    ]
    return max(found, key=lambda i: i.version) if found else None


def _provenance(info: VersionInfo) -> Any:
    """The copy's source as its tag names it: registry, model and version (its lock digest aside)."""
    try:
        found = json.loads(info.tags.get(COPY_SOURCE_TAG, "null"))
    except ValueError:
        return None
    return {k: found.get(k) for k in ("registry", "model", "version")} if isinstance(found, dict) else None


def source_of(info: VersionInfo) -> dict[str, Any] | None:
    """Where a copy came from (registry, model, version), or None for a version registered from a run."""
    found = _provenance(info)
    return found if isinstance(found, dict) else None


def locked_digest(pins_path: Path, source: MlflowRegistry, c: Copy, info: VersionInfo) -> str:
    """The source version's digest in model_pins.lock, checked against its artefacts now, to carry onto
    the copy; "" when the lock does not hold the source. InvalidPins (exit 2) when they no longer match."""
    from modelpins.lifecycle import artefact_lock as lock
    from modelpins.lifecycle.artifacts import Reader

    found = lock.read(lock.path_for(pins_path))
    entry = found.entries.get((info.model, info.version)) if found else None
    if found is None or entry is None:
        return ""
    key = (info.model, info.version)
    problems = lock.verify(found, [key], {key: info}, Reader(source, source.tracking_uri), lock.verify_mode())
    if problems:
        raise InvalidPins(problems)
    return entry.digest


def _missing_source(pins: PinsFile, m: ModelPins, pin: EnvPin, source: Source | None) -> Problem:
    assert pin.promote_from is not None
    where = pin.promote_from.line or pin.line
    if source is None:
        return Problem(pins.path, where, f"{m.name}@{pin.alias} in {pin.environment}: nothing to promote from")
    return Problem(
        pins.path,
        where,
        f"{m.name}@{pin.alias} in {pin.environment} promotes from {pin.promote_from}: version {source.version} "
        f"of '{source.model}' does not exist in {source.environment}'s registry ({source.registry})",
        f"pin {pin.promote_from} to an existing version first; nothing was copied",
    )


def _check_targets(
    view: PinsFile,
    actual: dict[str, dict[str, int]],
    versions: dict[tuple[str, int], VersionInfo],
    changes: list[Change],
    planned: set[tuple[str, int]],
    problems: list[Problem],
) -> None:
    """The versions the environment's direct pins move to exist and are READY (copies are made by apply)."""
    direct = [(c.model, c.after, c.line) for c in changes if c.after and (c.model, c.after) not in planned]
    known = {**actual, **{m: {} for m, _ in planned}}
    try:
        api.check_versions(view, known, versions, direct)
    except InvalidPins as exc:
        problems += exc.problems


def _soak(
    pins: PinsFile,
    m: ModelPins,
    pin: EnvPin,
    source: Source,
    info: VersionInfo | None,
    registries: Mapping[str, MlflowRegistry],
    now: float,
) -> list[Wait]:
    """The soak check of one promote_from pin: since when its version holds the source alias (audit tags)."""
    assert pin.promote_from is not None
    soak = pins.promotion.soak.get(pin.promote_from.environment, 0.0)
    if not soak or info is None:
        return []
    since = held_since(info, pin.promote_from.alias)
    return [
        Wait(
            pins.path,
            pin.promote_from.line or pin.line,
            f"{m.name}@{pin.alias} in {pin.environment}",
            str(pin.promote_from),
            source.version,
            since,
            soak,
            now,
            pin.override,
        )
    ]


def held_since(info: VersionInfo, alias: str) -> float | None:
    """When the version last took `alias`, from its audit records; None when no record says it holds it."""
    records = api.audit_entries(info.tags, alias)
    last = records[-1][1] if records else None
    if not last or last.get("to") != info.version or last.get("action") == "delete":
        return None
    try:
        return datetime.strptime(str(last.get("at", "")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def enforce_soak(promos: Promotions) -> None:
    """GateFailed (exit 1) naming each pin the promotion order refuses for now, and when it will be allowed."""
    refused = promos.refused
    if refused:
        count = len(refused)
        raise GateFailed(
            f"{count} promotion{'s' if count != 1 else ''} before the soak time is over:\n"
            + "\n".join(str(w) for w in refused)
        )


# -- apply ---------------------------------------------------------------------------------------


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
) -> list[Applied]:
    """Each environment in order: its copies (under its apply lock), gates on them, then its alias moves."""
    from modelpins import write
    from modelpins.registry_mutex import ApplyLock

    held = {w.pin for w in promos.refused}
    done: list[Applied] = []
    made: dict[tuple[str, str, str], VersionInfo] = {}
    for ep in promos.envs:
        copied: list[Copy] = []
        ep = _hold(ep, held)
        aliases = {name: dict(m.aliases) for name, m in ep.view.models.items()}
        if ep.copies:
            lock = ApplyLock(ep.registry, ctx.actor, timeout=lock_timeout, ttl=lock_ttl, notify=notify)
            lock.acquire()
            try:
                current = ep.registry.versions({c.target for c in ep.copies})
                for c in ep.copies:
                    src_reg = registries[c.source.environment]
                    info = made.get((c.model, c.source.environment, _alias_of(promos, c)))
                    info = info or c.source_info or src_reg.version(c.source.model, c.source.version)
                    if info is None:
                        raise InvalidPins([_missing_source_now(pins_path, c)])
                    found = find_copy(current, c.target, c.source)
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
        _gate_changes(ep, view, registries, ctx)
        extra = _audit_extra(promos, ep)
        moved = write.move_aliases(
            pins_path,
            view,
            ep.registry,
            ctx,
            skip_gates=skip_gates,
            lock_timeout=lock_timeout,
            lock_ttl=lock_ttl,
            notify=notify,
            audit_extra=extra,
            check_lock=False,
        )
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


def _gate_changes(ep: EnvPlan, view: PinsFile, registries: Mapping[str, MlflowRegistry], ctx: Any) -> None:
    """The target's gates on every version an alias of the environment moves to, recorded on it as
    `modelpins gate` records them; on a copy with the source version's run (it lives in the source's server)."""
    from modelpins.gates.run import run_gates

    plan = api.make_plan(view, ep.registry)
    copies = {(c.target, c.alias): c for c in ep.copies}
    for ch in plan.changes:
        if ch.after is None or not view.gates_for(ch.model, ch.alias):
            continue
        c = copies.get((ch.model, ch.alias))
        runs = _RunsFrom(ep.registry, registries[c.source.environment]) if c else ep.registry
        run_gates(view, [ch], plan.actual, plan.versions, runs, tracking_uri=uri(ep.registry), ctx=ctx)


class _RunsFrom:
    """The target registry for everything, but runs read from the source's server (the run lives there)."""

    def __init__(self, target: MlflowRegistry, source: MlflowRegistry):
        self.target, self.source = target, source
        self.reads, self.writes = 0, 0

    def run(self, run_id: str) -> dict[str, Any] | None:
        return self.source.run(run_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


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


# -- text ----------------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def table(promos: Promotions) -> str:
    """Each environment's copies, then its alias moves, as the plan shows them."""
    from modelpins.text import columns

    blocks = []
    held = {w.pin for w in promos.refused}
    for ep in promos.envs:
        rows = [("ENVIRONMENT", "MODEL", "ALIAS", "FROM", "TO", "ACTION")]
        for c in ep.copies:
            if f"{c.model}@{c.alias} in {c.environment}" in held:
                rows.append(
                    (ep.environment, c.target, c.alias, f"{c.source.model} v{c.source.version}", "-", "held (soak)")
                )
            elif not c.exists:
                rows.append(
                    (
                        ep.environment,
                        c.target,
                        "",
                        f"{c.source.model} v{c.source.version}",
                        f"v{c.version} (new)",
                        "copy",
                    )
                )
        for ch in ep.plan.changes:
            rows.append((ep.environment, ch.model, ch.alias, _v(ch.before), _v(ch.after), ch.action))
        if len(rows) > 1:
            blocks.append(columns(rows))
    for w in promos.overridden:
        blocks.append(f"soak override: {w.pin} (from {w.source}): {w.override}")
    return "\n".join(blocks)


def summary(promos: Promotions) -> str:
    copies = sum(1 for ep in promos.envs for c in ep.copies if not c.exists)
    moves = sum(len(ep.plan.changes) for ep in promos.envs)
    if not copies and not moves:
        return "No changes in the environments' registries."
    return f"Environments: {copies} cop{'ies' if copies != 1 else 'y'}, {moves} alias change{'s' if moves != 1 else ''}"


def _v(version: int | None) -> str:
    return "-" if version is None else str(version)


def markdown(promos: Promotions) -> str:
    """The PR comment's section: copies and alias moves per environment, soak checks and overrides."""
    out = ["**Promotions across environments**", ""]
    out += ["| Environment | Action | Model | Alias | From | To |", "|---|---|---|---|---|---|"]
    for ep in promos.envs:
        for c in ep.copies:
            if not c.exists:
                row = (ep.environment, "copy", c.target, "", f"{c.source.model} v{c.source.version}", f"v{c.version}")
                out.append("| " + " | ".join(f"`{v}`" if v else "" for v in row) + " |")
        for ch in ep.plan.changes:
            row = (ep.environment, ch.action, ch.model, ch.alias, _v(ch.before), _v(ch.after))
            out.append("| " + " | ".join(f"`{v}`" for v in row) + " |")
    for w in promos.refused:
        out += ["", f"- :x: soak: `{w.pin}` " + _wait_text(w)]
    for w in promos.overridden:
        out += ["", f"- :warning: soak override for `{w.pin}`: {w.override} (recorded in the audit tag)"]
    return "\n".join(out)


def _wait_text(w: Wait) -> str:
    if w.since is None or w.allowed_at is None:
        return f"promotes {w.source} v{w.version}, which does not hold it yet (soak {duration(w.soak)})"
    left = duration(w.allowed_at - w.now)
    held = f"held since {stamp(w.since)}, allowed from {stamp(w.allowed_at)}"
    return f"promotes {w.source} v{w.version}: {held} ({left} left)"


def as_json(promos: Promotions) -> dict[str, object]:
    return {
        "environments": [
            {
                "environment": ep.environment,
                "copies": [c.as_json() for c in ep.copies],
                "changes": [ch.as_json() for ch in ep.plan.changes],
            }
            for ep in promos.envs
        ],
        "soak": [
            {
                "pin": w.pin,
                "source": w.source,
                "version": w.version,
                "since": w.since,
                "allowed_at": w.allowed_at,
                "override": w.override or None,
            }
            for w in promos.waits
        ],
    }
