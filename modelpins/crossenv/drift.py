"""Drift in the environments' registries, through the copies: an alias moved by hand, a copy that is gone,
or a version that claims to be the copy (its provenance tag) while its run or files are another's."""

from __future__ import annotations

from dataclasses import dataclass

from modelpins.crossenv.model import Copy, EnvPlan, Promotions
from modelpins.crossenv.planning import same_origin, source_of
from modelpins.escape import code, markdown_table
from modelpins.pins import PinsFile
from modelpins.plan import Change
from modelpins.registry import VersionInfo
from modelpins.text import columns, version


@dataclass(frozen=True)
class EnvDrift:
    environment: str
    model: str  # the registered model in the environment's registry
    alias: str
    expected: str  # the version the file asks for, or the copy it asks for ("copy of staging.x v2")
    actual: int | None
    kind: str
    line: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "model": self.model,
            "alias": self.alias,
            "expected": self.expected,
            "actual": self.actual,
            "kind": self.kind,
        }


def drift(pins: PinsFile, promos: Promotions, only: str | None = None) -> list[EnvDrift]:
    """Every environment alias whose registry state differs from the file, seen through the copies
    (`only`: a model's name under `models`)."""
    found = []
    for ep in promos.envs:
        template = pins.environments[ep.environment].registry
        copies = {(c.target, c.alias): c for c in ep.copies}
        for ch in ep.plan.changes:
            if only and template is not None and ch.model != template.name(only):
                continue
            found.append(_one(ep, ch, copies.get((ch.model, ch.alias))))
    return found


def _one(ep: EnvPlan, ch: Change, c: Copy | None) -> EnvDrift:
    env, held = ep.environment, ch.before
    if c is None:  # a direct pin: the version the file names
        kind = "missing in registry" if held is None else ("not in file" if ch.after is None else "moved")
        return EnvDrift(env, ch.model, ch.alias, version(ch.after), held, kind, ch.line)
    wanted = f"copy of {c.source}" + (f" = v{c.version}" if c.exists else "")
    info = ep.plan.versions.get((ch.model, held)) if held is not None else None
    return EnvDrift(env, ch.model, ch.alias, wanted, held, _copy_kind(c, info), ch.line)


def _copy_kind(c: Copy, info: VersionInfo | None) -> str:
    """What the alias holds instead of the copy the file asks for."""
    if info is None:
        return "missing in registry" if c.exists else "not copied yet (apply)"
    claimed = source_of(info)
    named = f"{claimed.get('model')} v{claimed.get('version')}" if claimed else ""
    carries = c.source_info is not None and same_origin(info, c.source_info)  # the source's run and files
    if claimed and (claimed.get("model"), claimed.get("version")) == (c.source.model, c.source.version):
        if not carries:
            return f"tampered: v{info.version} is tagged a copy of {named}, but its run or files are another version's"
        return f"provenance changed: v{info.version} names {named} in {claimed.get('registry')}"
    if carries and not c.exists:
        tag = named or "no source"
        return f"provenance changed: v{info.version} carries {c.source}'s run and files, but its tag names {tag}"
    if claimed is None:
        return f"moved: v{info.version} is not a copy (no provenance tag)"
    if c.exists:
        return f"moved: v{info.version} is a copy of {named}"
    return f"stale: v{info.version} is a copy of {named}; the file promotes {c.source} (run apply)"


def table(found: list[EnvDrift]) -> str:
    rows = [("ENVIRONMENT", "MODEL", "ALIAS", "EXPECTED", "ACTUAL", "")]
    rows += [(d.environment, d.model, d.alias, d.expected, version(d.actual), d.kind) for d in found]
    return columns(rows)


def markdown(found: list[EnvDrift], source: str) -> str:
    if not found:
        return f"### Environment drift\n\nNo drift: every environment's registry matches {code(source)}.\n"
    head = ["environment", "model", "alias", "expected (git)", "actual (registry)", ""]
    rows = [[code(d.environment), code(d.model), code(d.alias), d.expected, version(d.actual), d.kind] for d in found]
    return "\n".join(["### Environment drift", "", *markdown_table(head, rows), ""]) + "\n"
