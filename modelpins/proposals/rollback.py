"""Rollback: a pull request that points an alias back at the version it pinned before.

The edit replaces the version's characters only (a one-line diff). With a waiver, the
model gains `waivers: {alias: {version, reason}}`, allowed only for a version that served
the alias before (in the file's git history or in an audit tag); `gates.waived()` is what gate
checks ask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from modelpins.audit import rollbacks
from modelpins.audit.history import Transition
from modelpins.audit.records import audit_entries
from modelpins.errors import InvalidInput
from modelpins.pins import AliasPin, PinsFile
from modelpins.proposals import proposal, yamledit
from modelpins.registry import VersionInfo
from modelpins.text import did_you_mean


@dataclass(frozen=True)
class Rollback:
    model: str
    alias: str
    current: int
    target: int
    line: int
    basis: str  # why this target: "--to", or the commit / audit record it comes from
    served_before: bool
    waiver: str | None
    old_text: str
    new_text: str

    def diff(self, path: str) -> str:
        return proposal.diff(self.old_text, self.new_text, path)


def previous_version(transitions: list[Transition], current: int) -> tuple[int, str] | None:
    """The version the alias pinned before it last became `current`, and the commit that moved it."""
    for t in reversed(transitions):
        if t.after == current and t.before is not None and t.before != current:
            return t.before, f"pinned before commit {(t.commit or '?')[:12]}" + (f" (PR #{t.pr})" if t.pr else "")
    return None


def audit_from(info: VersionInfo | None, alias: str) -> int | None:
    """`from` of the audit record on the current version: the fallback when git history has none."""
    records = audit_entries(info.tags, alias) if info else []
    value = records[-1][1].get("from") if records else None
    return value if isinstance(value, int) and value > 0 else None


def choose(
    pins: PinsFile,
    model: str,
    alias: str,
    to: int | None,
    transitions: list[Transition],
    current_info: VersionInfo | None = None,
) -> tuple[int, str]:
    """(target version, why): `--to`, else the previous version in git history, else the audit tag's `from`."""
    pin = _pin(pins, model, alias)
    if to is not None:
        target, basis = to, "--to"
    else:
        found = previous_version(transitions, pin.version)
        if found is None:
            earlier = audit_from(current_info, alias)
            if earlier is None:
                raise InvalidInput(
                    f"{pins.path}:{pin.line}: no earlier version of {model}@{alias} found in the file's git history "
                    "or in MLflow's audit tag; pass --to VERSION"
                )
            found = earlier, f"'from' of the audit tag on version {pin.version}"
        target, basis = found
    if target == pin.version:
        raise InvalidInput(
            f"{pins.path}:{pin.line}: {model}@{alias} is already pinned to {target}; nothing to roll back"
        )
    return target, basis


def plan(
    pins: PinsFile,
    text: str,
    model: str,
    alias: str,
    to: int | None,
    transitions: list[Transition],
    current_info: VersionInfo | None = None,
    target_info: VersionInfo | None = None,
    waive: str | None = None,
) -> Rollback:
    """The edited file for rolling `model@alias` back; InvalidInput with the fix when it cannot be.

    `waive` (None: no waiver; "" : a default reason) records a gate waiver, allowed only when the
    target served the alias before: in `transitions` or by an audit tag on `target_info`.
    """
    pin = _pin(pins, model, alias)
    target, basis = choose(pins, model, alias, to, transitions, current_info)
    served = any(target in (t.before, t.after) for t in transitions) or (
        target_info is not None and bool(audit_entries(target_info.tags, alias))
    )
    if waive is not None and not served:
        raise InvalidInput(
            f"version {target} never served {model}@{alias} (not in the file's git history nor in MLflow's audit "
            "tags), so its gates cannot be waived; drop --waive-gates and let the gates run"
        )
    doc = yamledit.Doc(text, pins.path)
    splices = proposal.retarget(doc, pins, model, alias, target, keep_waivers=waive is not None)
    reason = None
    if waive is not None:
        reason = waive or f"rollback to version {target}, which served {alias} before"
        entry = f"{alias}: {{version: {target}, reason: {json.dumps(reason)}}}"
        existing = doc.get(doc.model(model), "waivers")
        if existing is not None:
            splices.append(doc.insert_entry(existing[1], entry, f"waivers of '{model}'"))
        else:
            block = "waivers:\n" + _indent(doc, model) + entry
            last_alias = doc.aliases(model).value[-1][1]
            splices.append(doc.insert_entry(doc.model(model), block, f"model '{model}'", after=last_alias))
    new_text = proposal.edited(text, pins.path, splices, "rolled-back")
    return Rollback(model, alias, pin.version, target, pin.line, basis, served, reason, text, new_text)


def _pin(pins: PinsFile, model: str, alias: str) -> AliasPin:
    m = pins.models.get(model)
    if m is None:
        hint = did_you_mean(model, pins.models) or f"; models: {', '.join(pins.models)}"
        raise InvalidInput(f"{pins.path}: model '{model}' is not pinned in this file{hint}")
    pin = m.aliases.get(alias)
    if pin is None:
        raise InvalidInput(
            f"{pins.path}:{m.line}: '{model}' has no alias '{alias}'; pinned: {', '.join(m.aliases) or '(none)'}"
        )
    return pin


def _indent(doc: yamledit.Doc, model: str) -> str:
    """Indentation of a nested entry under the model: its keys' column plus the step the file uses."""
    node = doc.model(model)
    key_col = node.value[0][0].start_mark.column
    aliases = doc.aliases(model)
    step = aliases.value[0][0].start_mark.column - key_col if aliases.value else 2
    return " " * (key_col + max(step, 1))


def commit_message(r: Rollback) -> str:
    lines = [f"Roll back {r.model}@{r.alias} to version {r.target} (from {r.current})", ""]
    lines.append(f"Version {r.target}: {r.basis}.")
    if r.waiver:
        lines.append(f"Gates waived: {r.waiver}.")
    lines += ["", rollbacks.trailer(r.model, r.alias, r.current, r.target)]  # what apply records it by
    return "\n".join(lines) + "\n"
