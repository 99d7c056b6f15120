"""Promotion order and soak time: since when a version holds the previous environment's alias."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from modelpins.audit.records import audit_entries
from modelpins.crossenv.model import EnvPlan, Promotions, Source, Wait
from modelpins.errors import GateFailed, InvalidPins, ModelPinsError
from modelpins.pins import EnvPin, ModelPins, PinsFile, loads
from modelpins.registry import VersionInfo


def soak_check(
    pins: PinsFile,
    m: ModelPins,
    pin: EnvPin,
    source: Source,
    info: VersionInfo | None,
    envs: list[EnvPlan],
    git: GitEvidence,
    now: float,
) -> list[Wait]:
    """The soak check of one promote_from pin: since when its version holds the source alias, by the later of
    its audit record and the commit that pinned it there (git); by git alone when no audit record says so
    (an alias set by hand), if the source registry holds it."""
    assert pin.promote_from is not None
    soak = pins.promotion.soak.get(pin.promote_from.environment, 0.0)
    if not soak or info is None:
        return []
    src = pin.promote_from
    audit = held_since(info, src.alias)
    merged = git.since(m.name, src.environment, src.alias, source.version)
    actual = next((ep.plan.actual for ep in envs if ep.environment == src.environment), {})
    holds = actual.get(source.model, {}).get(src.alias) == source.version
    since = _combined(audit, merged, holds)
    return [
        Wait(
            pins.path,
            src.line or pin.line,
            f"{m.name}@{pin.alias} in {pin.environment}",
            str(src),
            source.version,
            since,
            soak,
            now,
            pin.override,
        )
    ]


def _combined(audit: float | None, merged: float | None, holds: bool) -> float | None:
    """The later of the two times; git's alone only while the source registry holds the version."""
    if merged is None:
        return audit
    if audit is None:
        return merged if holds else None
    return max(audit, merged)


class GitEvidence:
    """When each environment pin took its version in the pins file's git history: the committer time of the
    commit on the first-parent line (a merged PR: its merge commit) from which on the pin has held it.
    Read once, on the first question; no evidence outside a git repository."""

    def __init__(self, path: Path):
        self.path = path
        self._files: list[tuple[float, PinsFile]] | None = None

    def since(self, model: str, environment: str, alias: str, version: int) -> float | None:
        """None: the last commit does not pin that version directly (or there is no history)."""
        found = None
        for at, p in self._history():  # newest first
            m = p.models.get(model)
            pin = m.environments.get(environment, {}).get(alias) if m else None
            if pin is None or pin.promote_from is not None or pin.version != version:
                break
            found = at
        return found

    def _history(self) -> list[tuple[float, PinsFile]]:
        if self._files is None:
            self._files = _read_history(self.path)
        return self._files


def _read_history(path: Path) -> list[tuple[float, PinsFile]]:
    """The file at each commit that changed it on HEAD's first-parent line, newest first, with its commit time."""
    from modelpins.audit import history

    try:
        repo, rel, log = history.commits(path)
    except ModelPinsError:  # not a git repository, or no git: the audit tags are the evidence
        return []
    contents = history.blobs(repo, rel, [c.sha for c in log])
    out = []
    for c in reversed(log):
        data = contents.get(c.sha)
        try:
            parsed = loads(data, f"{rel}@{c.sha[:12]}") if data is not None else None
        except InvalidPins:
            parsed = None
        if parsed is None:
            break  # deleted or unreadable: the history before it says nothing about now
        out.append((_timestamp(c.at), parsed))
    return out


def _timestamp(at: str) -> float:
    return datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def held_since(info: VersionInfo, alias: str) -> float | None:
    """When the version last took `alias`, from its audit records; None when no record says it holds it."""
    records = audit_entries(info.tags, alias)
    last = records[-1][1] if records else None
    if not last or last.get("to") != info.version or last.get("action") == "delete":
        return None
    try:
        return _timestamp(str(last.get("at", "")))
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
