"""The registry reads behind the board, made once and handed to the pure `model.build`.

Requests: the alias state (ceil(models/1000) pages), every version of the pinned models with
their tags (one search, split only when the URL is too long), and the run of each version the
board shows (an aliased version, in the registry or the file, and the base or teacher its
lineage names). Registry size beyond the pinned models and versions that are not shown cost
nothing extra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from modelpins.errors import InvalidInput
from modelpins.pins import PinsFile
from modelpins.provenance import lineage
from modelpins.registry import VersionInfo


class Registry(Protocol):
    reads: int

    def aliases(self) -> dict[str, dict[str, int]]: ...
    def versions(self, models: set[str]) -> dict[tuple[str, int], VersionInfo]: ...
    def version(self, model: str, version: int) -> VersionInfo | None: ...
    def run(self, run_id: str) -> dict[str, Any] | None: ...


@dataclass
class Reads:
    actual: dict[str, dict[str, int]]  # the registry's aliases, every model
    versions: dict[tuple[str, int], VersionInfo]  # every version of the pinned models that exist
    lineages: dict[tuple[str, int], lineage.Node] = field(default_factory=dict)  # per version shown
    requests: int = 0  # registry requests these reads took


class _Cached:
    """lineage's reads served from the versions already fetched, with each run fetched once."""

    def __init__(self, registry: Registry, versions: dict[tuple[str, int], VersionInfo]):
        self.registry, self.versions = registry, versions
        self.runs: dict[str, dict[str, Any] | None] = {}

    def version(self, model: str, version: int) -> VersionInfo | None:
        if (model, version) not in self.versions:
            found = self.registry.version(model, version)
            if found is None:
                return None
            self.versions[(model, version)] = found
        return self.versions[(model, version)]

    def run(self, run_id: str) -> dict[str, Any] | None:
        if run_id not in self.runs:
            self.runs[run_id] = self.registry.run(run_id)
        return self.runs[run_id]


def shown(pins: PinsFile, actual: dict[str, dict[str, int]], versions: dict[tuple[str, int], VersionInfo]) -> list:
    """(model, version) of every version the board shows: what an alias points to, in the registry or the file."""
    out: set[tuple[str, int]] = set()
    for name, m in pins.models.items():
        numbers = {*actual.get(name, {}).values(), *(p.version for p in m.aliases.values())}
        out |= {(name, n) for n in numbers if (name, n) in versions}
    return sorted(out)


def read(pins: PinsFile, registry: Registry) -> Reads:
    start = registry.reads
    actual = registry.aliases()
    versions = registry.versions({m for m in pins.models if m in actual})
    cached = _Cached(registry, dict(versions))
    lineages = {}
    for model, number in shown(pins, actual, versions):
        try:
            lineages[(model, number)] = lineage.lineage(pins, cached, model, number)
        except InvalidInput:  # a base or teacher named in the run that the registry no longer has
            continue
    return Reads(actual, versions, lineages, registry.reads - start)
