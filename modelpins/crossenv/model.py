"""The data of a promotion across environments: where a copy comes from, the copies, the soak waits."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from modelpins import api
from modelpins.pins import PinsFile
from modelpins.registry import MlflowRegistry, VersionInfo


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
