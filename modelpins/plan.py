"""The plan: desired alias state (the pins file) minus actual state (the registry). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from modelpins import layout
from modelpins.layout import Layout
from modelpins.pins import PinsFile
from modelpins.text import columns, version

Action = Literal["set", "move", "delete"]


@dataclass(frozen=True)
class Change:
    model: str
    alias: str
    before: int | None
    after: int | None
    line: int = 0

    @property
    def action(self) -> Action:
        if self.after is None:
            return "delete"
        return "set" if self.before is None else "move"

    def as_json(self) -> dict[str, object]:
        return {"model": self.model, "alias": self.alias, "from": self.before, "to": self.after, "action": self.action}


def diff(pins: PinsFile, actual: Mapping[str, Mapping[str, int]]) -> list[Change]:
    """Changes that make `actual` equal `pins` for the models the file manages.

    Sets and moves come first in file order, deletes after them, so an alias is never
    missing for longer than it must be. Models the file does not name are left alone.
    """
    moves: list[Change] = []
    deletes: list[Change] = []
    for model in pins.models.values():
        if not model.aliases and model.environments:
            continue  # pinned only in environments' registries (modelpins.crossenv)
        current = actual.get(model.name, {})
        for pin in model.aliases.values():
            if current.get(pin.alias) != pin.version:
                moves.append(Change(model.name, pin.alias, current.get(pin.alias), pin.version, pin.line))
        for alias in sorted(set(current) - set(model.aliases)):
            deletes.append(Change(model.name, alias, current[alias], None, model.line))
    return moves + deletes


def between(base: PinsFile | None, head: PinsFile) -> list[Change]:
    """What a change to the file itself asks for: `head` against `base` (a PR against its base branch)."""
    return diff(head, base.alias_map() if base else {})


def summary(changes: list[Change]) -> str:
    if not changes:
        return "No changes: the registry matches the pins file."
    counts = {a: sum(1 for c in changes if c.action == a) for a in ("set", "move", "delete")}
    parts = ", ".join(f"{n} {a}" for a, n in counts.items() if n)
    return f"{len(changes)} change{'s' if len(changes) != 1 else ''}: {parts}"


def table(changes: list[Change]) -> str:
    rows = [("MODEL", "ALIAS", "FROM", "TO", "ACTION")]
    rows += [(c.model, c.alias, version(c.before), version(c.after), c.action) for c in changes]
    return columns(rows)


def served_by(pins: PinsFile, changes: list[Change], layouts: Mapping[tuple[str, int], Layout] | None = None) -> str:
    """Which deployments serve each moved model, and by which runtime (chosen by the model's kind and flavor)."""
    rows = [("MODEL", "ALIAS", "DEPLOYMENT", "ENVIRONMENT", "RUNTIME")]
    for c in changes:
        kind = pins.models[c.model].kind if c.model in pins.models else "model"
        found = (layouts or {}).get((c.model, c.after)) if c.after is not None else None
        for dep in pins.deployments.values():
            entries = dep.serve + dep.strategy.candidate
            if any(r.model == c.model and r.alias == c.alias for e in entries for r in e.refs()):
                rows.append((c.model, c.alias, dep.name, dep.environment, layout.describe(kind, found)))
    return columns(rows) if len(rows) > 1 else ""
