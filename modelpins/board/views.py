"""What the board shows, as typed records: a cell per model and alias, the alias moves, the gate evidence,
the deployments that serve each version and the pending moves. `modelpins.board.model.build` makes them;
the text board, `status --json` and the site read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelpins.audit import rollbacks
from modelpins.plan import Change
from modelpins.provenance.lineage import Node


@dataclass(frozen=True)
class Move:
    """One alias move as its audit record tells it."""

    alias: str
    before: int | None
    after: int | None
    at: str  # UTC, ISO 8601
    actor: str = ""
    pr: str = ""
    pr_url: str = ""
    commit: str = ""
    run_url: str = ""
    gates: str = ""  # passed | waived | skipped | ""
    reason: str = ""
    rollback: str = ""  # "command": made through `modelpins rollback`; "older": to an older version; "": not one

    @property
    def rollback_label(self) -> str:
        """The badge's words: which kind of rollback, exactly."""
        return rollbacks.label(self.rollback, self.before)

    def as_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v not in ("", None) or k in ("before", "after")}
        out["rollback"] = bool(self.rollback)
        if self.rollback:
            out["rollback_kind"] = self.rollback
        return out


@dataclass(frozen=True)
class Result:
    name: str
    kind: str
    value: Any
    threshold: Any
    passed: bool


@dataclass(frozen=True)
class Evidence:
    """The gate record on one version for one alias (tag modelpins.gates.<alias>)."""

    alias: str
    version: int
    passed: bool | None  # None: the tag is not a readable record
    at: str = ""
    commit: str = ""
    results: tuple[Result, ...] = ()

    @property
    def status(self) -> str:
        return {True: "passed", False: "failed", None: "unreadable"}[self.passed]

    def as_json(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "version": self.version,
            "status": self.status,
            "at": self.at or None,
            "results": [r.__dict__ for r in self.results],
        }


@dataclass(frozen=True)
class Serving:
    """Where a cell's version serves: one track of one deployment."""

    deployment: str
    environment: str
    track: str  # stable | candidate | blue | green
    traffic: str  # "90%", "mirrored", "active", "idle", "100%"


@dataclass(frozen=True)
class Canary:
    """The newest canary decision on a cell's version (modelpins.audit.canary): what `canary advance` decided."""

    deployment: str
    action: str  # advance | promote | rollback | hold
    weight: str  # the candidate's share before the decision
    to_weight: str  # and after
    reason: str
    at: str


@dataclass(frozen=True)
class Cell:
    model: str
    alias: str
    version: int | None  # what the registry serves (None: not set there)
    pinned: int | None  # what the file asks for (None: not in the file)
    url: str = ""  # MLflow UI page of `version`
    drift: str = ""  # "", "moved", "missing in registry", "not in file"
    since: str = ""  # when the alias moved to `version` (its audit record)
    age: str = ""
    registered: str = ""  # the version's creation time
    promotion: Move | None = None
    evidence: Evidence | None = None
    gated: bool = False  # the file has gates for this alias
    serving: tuple[Serving, ...] = ()
    canary: Canary | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "canary": self.canary.__dict__ if self.canary else None,
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "pinned": self.pinned,
            "url": self.url or None,
            "drift": self.drift or None,
            "since": self.since or None,
            "age": self.age or None,
            "promotion": self.promotion.as_json() if self.promotion else None,
            "gates": self.evidence.as_json() if self.evidence else None,
            "serving": [s.__dict__ for s in self.serving],
        }


@dataclass(frozen=True)
class Track:
    key: str  # stable | candidate
    colour: str | None
    refs: tuple[tuple[str, str, int], ...]  # (model, alias, version in the file)
    traffic: str


@dataclass(frozen=True)
class DeploymentView:
    name: str
    environment: str
    namespace: str
    strategy: str
    summary: str  # "canary: 10% to the candidate (steps 10, 50, 100)"
    tracks: tuple[Track, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "environment": self.environment,
            "namespace": self.namespace,
            "strategy": self.strategy,
            "summary": self.summary,
            "tracks": [
                {
                    "track": t.key,
                    "colour": t.colour,
                    "traffic": t.traffic,
                    "serves": [f"{m}@{a}=v{v}" for m, a, v in t.refs],
                }
                for t in self.tracks
            ],
        }


@dataclass(frozen=True)
class Pending:
    change: Change
    gates: str  # "no gates", "passed", "waived: ...", or why apply would refuse it

    def as_json(self) -> dict[str, Any]:
        return {**self.change.as_json(), "line": self.change.line, "gates": self.gates}


@dataclass
class ModelView:
    name: str
    kind: str
    owners: tuple[str, ...]
    description: str
    limitations: str
    cells: dict[str, Cell]
    moves: list[Move]  # oldest first
    gate_history: list[Evidence]  # oldest first
    lineage: dict[str, Node] = field(default_factory=dict)  # alias -> lineage of its version
    cards: dict[str, str] = field(default_factory=dict)  # alias -> model card markdown
    registered: bool = True  # the registry has this model

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "registered": self.registered,
            "aliases": {a: c.as_json() for a, c in self.cells.items()},
            "moves": [m.as_json() for m in self.moves],
        }


@dataclass
class Board:
    source: str  # the pins file
    generated: str  # UTC, ISO 8601
    tracking_uri: str
    aliases: list[str]  # the columns
    models: list[ModelView]
    deployments: list[DeploymentView]
    pending: list[Pending]
    requests: int

    @property
    def drifted(self) -> list[Cell]:
        return [c for m in self.models for c in m.cells.values() if c.drift]

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "generated": self.generated,
            "tracking_uri": self.tracking_uri,
            "aliases": self.aliases,
            "models": [m.as_json() for m in self.models],
            "deployments": [d.as_json() for d in self.deployments],
            "pending": [p.as_json() for p in self.pending],
            "drift": len(self.drifted),
            "registry_requests": self.requests,
        }
