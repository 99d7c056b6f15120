"""model_pins.lock for the environments' registries: each environment's versions (its direct pins and the copies
already made) in a section of its own, hashed from that environment's registry. A copy not made yet is locked
once apply has made it (its provenance carries the source's digest meanwhile)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from modelpins.crossenv.model import EnvPlan, Promotions
from modelpins.errors import Problem
from modelpins.integrity import artefact_lock
from modelpins.integrity.artefact_lock import Entry, LockFile
from modelpins.integrity.artifacts import Reader
from modelpins.pins import PinsFile


@dataclass
class Built:
    entries: dict[str, list[Entry]] = field(default_factory=dict)  # environment -> its versions
    hashed: int = 0
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)


def build(promos: Promotions, previous: LockFile | None, refresh: bool = False) -> Built:
    """Every environment's existing pinned versions, as `artefact_lock.build` locks the command's registry's."""
    out = Built()
    for ep in promos.envs:
        out.notes += [
            f"note: {ep.environment}: {c.target}@{c.alias} (copy of {c.source}) is not made yet; "
            "run `modelpins lock` again after apply"
            for c in ep.copies
            if not c.exists
        ]
        reader = Reader(ep.registry, ep.registry.tracking_uri)
        before = previous.environment(ep.environment) if previous else None
        entries, hashed = artefact_lock.build(existing(ep), ep.registry, reader, before, refresh)
        if entries:
            out.entries[ep.environment] = entries
        out.hashed, out.bytes_read = out.hashed + hashed, out.bytes_read + reader.bytes_read
    return out


def existing(ep: EnvPlan) -> PinsFile:
    """The environment's pins without the copies apply has yet to make."""
    models = {}
    for name, m in ep.view.models.items():
        aliases = {a: p for a, p in m.aliases.items() if (name, p.version) in ep.plan.versions}
        if aliases:
            models[name] = replace(m, aliases=aliases)
    return replace(ep.view, models=models)


def stale_offline(pins: PinsFile, lock: LockFile) -> list[str]:
    """Without a server: every environment pin of a version (not promote_from) that the lock does not hold."""
    out = []
    for m in pins.models.values():
        for env, env_pins in m.environments.items():
            template = pins.environments[env].registry if env in pins.environments else None
            name = template.name(m.name) if template else m.name
            held = lock.environments.get(env, {})
            out += [
                f"{pins.path}:{p.line}: {name} version {p.version} in {env} is pinned but not locked"
                for p in env_pins.values()
                if p.version is not None and (name, p.version) not in held
            ]
    return out


def stale(promos: Promotions, lock: LockFile) -> list[str]:
    """With the servers: the versions each environment pins now (copies resolved) against its section."""
    out = []
    for ep in promos.envs:
        section = lock.environment(ep.environment)
        out += [f"{line} (in {ep.environment})" for line in artefact_lock.stale(existing(ep), section)]
    return out


def moved(promos: Promotions, lock: LockFile, mode: str) -> list[Problem]:
    """Every environment's locked version whose artefacts or signature moved since locking."""
    found: list[Problem] = []
    for ep in promos.envs:
        section = lock.environment(ep.environment)
        found += artefact_lock.moved(section, ep.registry, Reader(ep.registry, ep.registry.tracking_uri), mode)
    return found


def count(lock: LockFile) -> int:
    return len(lock.entries) + sum(len(v) for v in lock.environments.values())
