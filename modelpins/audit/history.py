"""Alias transitions: the git history of the pins file joined with the audit tags in MLflow.

Git says what was asked (commit, PR, author, approvals in commit trailers, waivers);
the audit records `modelpins.audit.<alias>.<time>` on a version (one per move) say when and by whom it was applied
and, with `modelpins.gates.<alias>`, the gate evidence. The file is read at every commit
that touched it on the first-parent line (a merged PR is its merge commit) through one
`git cat-file --batch` process; the registry is read for the models asked about only.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelpins import gitrepo
from modelpins.audit import rollbacks
from modelpins.audit.records import audit_entries
from modelpins.context import _pr_from_message
from modelpins.errors import InvalidPins, OperationFailed
from modelpins.pins import PinsFile, loads
from modelpins.plan import between
from modelpins.registry import VersionInfo
from modelpins.tags import GATES_PREFIX
from modelpins.text import columns, version

TRAILER_RE = re.compile(r"^(?:Approved-by|Reviewed-by):\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Commit:
    sha: str
    at: str  # committer date, ISO 8601
    author: str
    subject: str
    body: str

    @property
    def pr(self) -> str | None:
        return _pr_from_message(self.subject)

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(TRAILER_RE.findall(self.body))


@dataclass(frozen=True)
class Transition:
    """One alias change: asked for in git (`commit` set) and/or applied to MLflow (`applied` set)."""

    model: str
    alias: str
    before: int | None
    after: int | None
    at: str
    commit: str | None = None
    pr: str | None = None
    author: str | None = None
    subject: str = ""
    approved_by: tuple[str, ...] = ()
    waiver: str | None = None
    applied: Mapping[str, Any] | None = None
    gates: Any = None
    rollback: str = ""  # "command" (asked for through `modelpins rollback`), "older" or "" (modelpins.audit.rollbacks)

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "alias": self.alias,
            "from": self.before,
            "to": self.after,
            "at": self.at,
            "commit": self.commit,
            "pr": self.pr,
            "author": self.author,
            "approved_by": list(self.approved_by),
            "waiver": self.waiver,
            "applied": dict(self.applied) if self.applied else None,
            "gates": self.gates,
            "rollback": self.rollback or None,
        }


@dataclass
class History:
    transitions: list[Transition]
    unreadable: list[str] = field(default_factory=list)  # "<sha>: <first problem>" for commits that did not parse
    registry_read: bool = False
    shallow: bool = False  # a shallow clone: older commits are missing (CI: fetch-depth 0)


def commits(path: Path) -> tuple[Path, str, list[Commit]]:
    """Commits that changed the file on HEAD's first-parent line, oldest first."""
    repo, rel = gitrepo.locate(path)
    out = gitrepo.git(
        repo, "log", "--first-parent", "--format=%x1e%H%x1f%cI%x1f%an%x1f%s%x1f%b", "HEAD", "--", rel, check=False
    )
    if out.returncode != 0:  # a repository without commits yet
        return repo, rel, []
    found = []
    for record in out.stdout.split("\x1e")[1:]:
        sha, at, author, subject, body = record.split("\x1f", 4)
        found.append(Commit(sha, utc(at), author, subject, body.strip()))
    return repo, rel, found[::-1]


def utc(iso: str) -> str:
    """An ISO 8601 time as UTC 'YYYY-MM-DDTHH:MM:SSZ', the form audit records use, so both sort together."""
    return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def blobs(repo: Path, rel: str, shas: list[str]) -> dict[str, bytes | None]:
    """The file's bytes at each commit, read by one `git cat-file --batch` process."""
    if not shas:
        return {}
    request = "".join(f"{sha}:{rel}\n" for sha in shas).encode()
    try:
        out = subprocess.run(["git", "cat-file", "--batch"], cwd=repo, input=request, capture_output=True, timeout=300)
    except FileNotFoundError:
        raise OperationFailed("git is not installed; history needs it") from None
    data, pos = out.stdout, 0
    result: dict[str, bytes | None] = {}
    for sha in shas:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            result[sha] = data[pos : pos + size]
            pos += size + 1
        else:
            result[sha] = None
    return result


def git_transitions(path: Path, model: str | None = None, alias: str | None = None) -> History:
    """Every alias change the file's git history asks for, oldest first."""
    repo, rel, log = commits(path)
    contents = blobs(repo, rel, [c.sha for c in log])
    shallow = gitrepo.git(repo, "rev-parse", "--is-shallow-repository", check=False).stdout.strip() == "true"
    history = History([], shallow=shallow)
    previous: PinsFile | None = None
    for c in log:
        data = contents.get(c.sha)
        if data is None:  # the file was deleted in this commit
            previous = None
            continue
        try:
            current = loads(data, f"{rel}@{c.sha[:12]}")
        except InvalidPins as exc:
            history.unreadable.append(f"{c.sha[:12]}: {exc.problems[0]}")
            continue
        for change in between(previous, current):
            if (model and change.model != model) or (alias and change.alias != alias):
                continue
            waiver = current.models[change.model].waivers.get(change.alias) if change.model in current.models else None
            reason = waiver.reason if waiver and waiver.version == change.after else None
            asked = (change.model, change.alias, change.after) in rollbacks.in_message(c.body)
            history.transitions.append(
                Transition(
                    change.model,
                    change.alias,
                    change.before,
                    change.after,
                    at=c.at,
                    commit=c.sha,
                    pr=c.pr,
                    author=c.author,
                    subject=c.subject,
                    approved_by=c.approvers,
                    waiver=reason,
                    rollback=rollbacks.kind({"waiver": reason, "rollback": asked}, change.before, change.after),
                )
            )
        previous = current
    return history


def audit_records(versions: Mapping[tuple[str, int], VersionInfo], alias: str | None = None) -> list[dict[str, Any]]:
    """Every audit record on the given versions, each with `model` and `version` added."""
    records = []
    for (model, number), info in versions.items():
        for name, record in audit_entries(info.tags, alias):
            tag = info.tags.get(GATES_PREFIX + name)
            gates = _evidence(tag) if tag is not None else record.get("gates")
            records.append({**record, "model": model, "version": number, "gates": gates})
    return records


def join(history: History, records: list[dict[str, Any]]) -> History:
    """Attach each audit record to the git transition it applied; keep the rest as registry-only entries."""
    used: set[int] = set()
    joined = []
    for t in history.transitions:
        match = None
        for i, r in enumerate(records):
            if i in used or r.get("model") != t.model or r.get("alias") != t.alias or r.get("to") != t.after:
                continue
            if (t.commit and r.get("commit") == t.commit) or (t.pr and str(r.get("pr")) == t.pr):
                match = i
                break
        if match is None:
            joined.append(t)
            continue
        used.add(match)
        record = records[match]
        extra = tuple(a for a in _approvers(record) if a not in t.approved_by)
        joined.append(
            Transition(
                **{
                    **t.__dict__,
                    "applied": _applied(record),
                    "gates": record.get("gates"),
                    "approved_by": t.approved_by + extra,
                    "rollback": "command" if t.rollback == "command" else rollbacks.kind(record, t.before, t.after),
                }
            )
        )
    for i, r in enumerate(records):
        if i not in used:
            joined.append(
                Transition(
                    str(r["model"]),
                    str(r.get("alias")),
                    r.get("from"),
                    r.get("to"),
                    at=str(r.get("at", "")),
                    commit=r.get("commit"),
                    pr=str(r["pr"]) if r.get("pr") else None,
                    approved_by=_approvers(r),
                    applied=_applied(r),
                    gates=r.get("gates"),
                    rollback=rollbacks.kind(r, r.get("from"), r.get("to")),
                )
            )
    joined.sort(key=lambda t: t.at)
    return History(joined, history.unreadable, registry_read=True, shallow=history.shallow)


def _applied(record: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("actor", "at", "commit", "pr", "run_url", "reason", "environment", "copied_from", "soak_override")
    return {k: record[k] for k in keep if record.get(k)}


def _approvers(record: Mapping[str, Any]) -> tuple[str, ...]:
    value = record.get("approved_by") or record.get("approvers") or ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def _evidence(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def gates_summary(t: Transition) -> str:
    if t.waiver:
        return f"waived: {t.waiver}"
    g = t.gates
    if g is None:
        return "-"
    if isinstance(g, dict):
        for key in ("result", "status", "passed"):
            if key in g:
                value = g[key]
                return ("passed" if value else "failed") if isinstance(value, bool) else str(value)
        return json.dumps(g, sort_keys=True)[:60]
    return str(g)[:60]


def table(history: History) -> str:
    rows = [("WHEN", "MODEL@ALIAS", "FROM", "TO", "ROLLBACK", "COMMIT", "PR", "AUTHOR", "APPROVED", "APPLIED", "GATES")]
    for t in history.transitions:
        applied = "-"
        if t.applied:
            applied = f"{t.applied.get('at', '?')} by {t.applied.get('actor', '?')}"
            copied = t.applied.get("copied_from")
            if isinstance(copied, dict):
                applied += f" (copy of {copied.get('model')} v{copied.get('version')} in {copied.get('environment')})"
            if t.applied.get("soak_override"):
                applied += f" (soak override: {t.applied['soak_override']})"
        elif history.registry_read and t.commit:
            applied = "no audit tag"
        rows.append(
            (
                t.at[:16].replace("T", " "),
                f"{t.model}@{t.alias}",
                version(t.before),
                version(t.after),
                rollbacks.label(t.rollback, t.before).removeprefix("rollback ").strip("()") or "-",
                (t.commit or "-")[:8],
                f"#{t.pr}" if t.pr else "-",
                t.author or "-",
                ", ".join(t.approved_by) or "-",
                applied,
                gates_summary(t),
            )
        )
    return columns(rows)
