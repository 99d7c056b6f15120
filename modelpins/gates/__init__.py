"""Promotion gates: the checks a version must pass before an alias may point at it.

`run.run_gates` evaluates the gates of every alias a change moves and returns a
`GateReport` (typed data); `evidence` writes and checks the record left on the
candidate version; `report` renders the text table, markdown and JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelpins.pins import PinsFile


class GateError(Exception):
    """A gate could not produce a verdict (missing metric, crashed script, timeout): it fails closed."""


@dataclass(frozen=True)
class GateResult:
    name: str
    kind: str
    passed: bool
    value: float | None = None
    threshold: str = ""
    detail: str = ""
    error: str = ""

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "value": self.value,
            "threshold": self.threshold,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class Subject:
    """A model version as the gates see it: registry facts plus its run's metrics and params."""

    model: str
    version: int
    run_id: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    has_run: bool = False


@dataclass(frozen=True)
class Target:
    """One alias move under test: the candidate and the versions its regression gates compare with."""

    alias: str
    candidate: Subject
    previous: int | None
    baselines: Mapping[str, Subject | None]
    tracking_uri: str  # as given (a child process is shown it without user-info)
    base_dir: Path
    commit: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)  # MLFLOW_TRACKING_* of the registry evaluated


@dataclass(frozen=True)
class AliasCheck:
    """The gates of one alias move and their results."""

    model: str
    alias: str
    before: int | None
    after: int
    line: int
    results: tuple[GateResult, ...]
    digest: str = ""
    baselines: Mapping[str, int | None] = field(default_factory=dict)
    recorded: bool = False
    deferred: str = ""  # why these gates did not run now (a gate change: they run after merge)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.alias}"


@dataclass(frozen=True)
class GateReport:
    pins_path: str
    checks: tuple[AliasCheck, ...]
    base: str | None = None
    commit: str | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[AliasCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)


def waived(pins: PinsFile, model: str, alias: str, version: int) -> str | None:
    """The reason gates are waived for moving `model@alias` to `version`, or None when they are not."""
    m = pins.models.get(model)
    waiver = m.waiver_for(alias, version) if m else None
    return waiver.reason if waiver else None
