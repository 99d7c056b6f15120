"""Rollbacks: which alias moves are one, and of which kind, for the audit records, `history` and the board.

A rollback is a move to an older version than the one it replaced ("older"), or one asked for through
`modelpins rollback` ("command"). That command writes a `Modelpins-Rollback: MODEL@ALIAS FROM -> TO` trailer in
its commit (and its pull request's body, so a squash merge keeps it). `apply` reads the trailers of the commits it
brings to the registry (those since the commit the branch last applied, merged branches included) and records
`"rollback": true` in the audit record of each move a trailer asked for. A forward move back to a version the alias
once held is not a rollback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelpins import gitrepo
from modelpins.errors import ModelPinsError
from modelpins.plan import Change

TRAILER = "Modelpins-Rollback"
_TRAILER_RE = re.compile(
    rf"^[ \t>*-]*{TRAILER}:[ \t]*(\S+)@(\S+)[ \t]+(?:\d+|-)[ \t]*->[ \t]*(\d+)[ \t]*$", re.IGNORECASE | re.MULTILINE
)
_SHA = re.compile(r"[0-9a-fA-F]{7,64}", re.ASCII)  # a commit as apply records it (the record is the registry's data)
MAX_COMMITS = 1000  # the commits since the last applied one whose messages are read: more is not a merge's worth

Asked = set[tuple[str, str, int]]  # (model, alias, version) a rollback commit moves the alias to


def trailer(model: str, alias: str, current: int, target: int) -> str:
    return f"{TRAILER}: {model}@{alias} {current} -> {target}"


def in_message(message: str) -> Asked:
    """The rollbacks a commit message asks for (anywhere in it: a squash merge's body lists its commits')."""
    return {(m, a, int(v)) for m, a, v in _TRAILER_RE.findall(message)}


def asked(pins_path: Path, commit: str | None, since: str | None) -> Asked:
    """The rollbacks the commits that `commit` brings ask for: those after `since` (the commit the branch last
    applied, when `commit` descends from it), else `commit` itself and the commits it merged. Empty outside git."""
    if not commit or not _SHA.fullmatch(commit):
        return set()
    try:
        repo, rel = gitrepo.locate(pins_path)
    except ModelPinsError:
        return set()
    if since and _SHA.fullmatch(since) and _descends(repo, commit, since):
        ranges = [[commit, "--not", since]]
    else:  # the first apply on the branch, or an older commit applied on purpose
        ranges = [[commit, "--not", f"{commit}^1"], [commit, "-1"]]  # the second for a root commit
    for spec in ranges:
        out = gitrepo.git(
            repo, "log", f"--max-count={MAX_COMMITS}", "--full-history", "--format=%B", *spec, "--", rel,
            check=False,
        )  # fmt: skip
        if out.returncode == 0:
            return in_message(out.stdout)
    return set()


def _descends(repo: Path, commit: str, since: str) -> bool:
    return gitrepo.git(repo, "merge-base", "--is-ancestor", since, commit, check=False).returncode == 0


def audit_fields(found: Asked) -> Callable[[Change], dict[str, object]]:
    """The `rollback` field of each move's audit record: true for a move a rollback commit asked for."""
    return lambda c: {"rollback": True} if c.after is not None and (c.model, c.alias, c.after) in found else {}


def kind(record: Mapping[str, Any], before: int | None, after: int | None) -> str:
    """ "command": asked for through `modelpins rollback` (the record's `rollback` field, or the waiver
    `rollback --waive-gates` writes); "older": to an older version than the one replaced; else ""."""
    waiver = str(record.get("waiver") or "")
    if record.get("rollback") is True or waiver.startswith("rollback to version "):
        return "command"
    if before is not None and after is not None and after < before:
        return "older"
    return ""


def label(found: str, before: int | None) -> str:
    """What the board's badge and `history` say of a rollback of kind `found`: which kind, exactly."""
    if found == "command":
        return "rollback (modelpins rollback)"
    if found == "older":
        return f"rollback (older than v{before})"
    return ""
