"""The plan of each environment: resolve promote_from pins in dependency order, find earlier copies."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from modelpins import api
from modelpins.crossenv.model import Copy, EnvPlan, Promotions, Source, Wait
from modelpins.crossenv.registries import check_servers, connect, pinned_environments, uri
from modelpins.crossenv.soak import GitEvidence, soak_check
from modelpins.errors import InvalidPins, Problem
from modelpins.pins import AliasPin, EnvPin, ModelPins, PinsFile
from modelpins.plan import Change, diff
from modelpins.registry import MlflowRegistry, VersionInfo
from modelpins.tags import COPY_SOURCE_TAG


def from_settings(
    pins: PinsFile,
    tracking_uri: str | None,
    default: Callable[[], MlflowRegistry],
    checked: Collection[str] | None = None,
) -> tuple[Promotions, dict[str, MlflowRegistry]] | None:
    """The environments' plan for a command, or None when the file pins nothing in environments.

    `checked`: the tracking URIs whose server version the command checked already; given, every other
    environment's server is checked (once per server) before anything is read (plan, apply)."""
    import time

    if not pinned_environments(pins):
        return None
    registries = connect(pins, default() if tracking_uri else None)
    if checked is not None:
        check_servers(pins, registries, checked)
    return make_plan(pins, registries, time.time()), registries


def make_plan(pins: PinsFile, registries: Mapping[str, MlflowRegistry], now: float) -> Promotions:
    """Every environment's copies and alias moves, without writing; InvalidPins (exit 2) for a missing source."""
    resolved: dict[tuple[str, str, str], tuple[Source, VersionInfo | None]] = {}
    envs: list[EnvPlan] = []
    waits: list[Wait] = []
    problems: list[Problem] = []
    git = GitEvidence(Path(pins.path))
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
                    found = find_copy(versions, target, source, info)
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
                    waits += soak_check(pins, m, pin, source, info, envs, git, now)
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


def find_copy(
    versions: Mapping[tuple[str, int], VersionInfo], target: str, source: Source, origin: VersionInfo | None = None
) -> VersionInfo | None:
    """The earlier copy of `source` in `target`, by its provenance tag (the newest, should there be several);
    with `origin` (the source version as read), only a copy whose run and files are the origin's."""
    want = json.loads(source.tag())
    found = [
        info
        for (name, _), info in versions.items()
        if name == target
        and _provenance(info) == want
        and info.status != "FAILED_REGISTRATION"
        and same_origin(info, origin)
    ]
    return max(found, key=lambda i: i.version) if found else None


def same_origin(copy: VersionInfo, origin: VersionInfo | None) -> bool:
    """Whether a copy carries its source's run and files: a provenance tag edited to name another version does not."""
    if origin is None or origin.status == "PENDING_COPY":  # made by this plan: nothing to compare yet
        return True
    if copy.run_id != origin.run_id:
        return False
    if copy.source.startswith("models:/"):  # a copy on the source's own server names it
        return copy.source == f"models:/{origin.model}/{origin.version}"
    resolved_there = origin.source.startswith(("models:", "runs:", "mlflow-artifacts:"))
    return resolved_there or copy.source == origin.source  # else the storage location, as the copy carries it


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
