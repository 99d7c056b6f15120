"""Head only: the pins commit each repository's branch last applied, kept in the registry, and the refusal to
apply a commit that is older than it or unrelated to it (a stale re-run must never roll back a newer merge).

The record is a tag per repository and branch on the registered model `modelpins.applied` (modelpins.tags),
written by apply under the apply lock once every change of the commit took effect. Imports the core, adapters
and base only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelpins import envvars, gitrepo
from modelpins.context import Context
from modelpins.errors import OperationFailed
from modelpins.registry import RegisteredModel
from modelpins.tags import APPLIED_MODEL, APPLIED_TAG

BRANCH = re.compile(r"[\x21-\x7e]{1,200}", re.ASCII)


class Store(Protocol):
    def registered_model(self, name: str) -> RegisteredModel | None: ...
    def create_registered_model(self, name: str, tags: Mapping[str, str], description: str = "") -> bool: ...
    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...


@dataclass(frozen=True)
class Applied:
    """What a branch last applied: its commit, when and by whom."""

    commit: str
    at: str = ""
    actor: str = ""


def branch(env: Mapping[str, str], repo: Path) -> str | None:
    """The branch being applied: MODELPINS_BRANCH, else GITHUB_REF's branch (refs/heads/...), else git's."""
    name = envvars.text("MODELPINS_BRANCH", env, BRANCH, "a branch name")
    ref = env.get("GITHUB_REF", "")
    if not name and ref.startswith("refs/heads/"):
        name = ref.removeprefix("refs/heads/")
    if not name:
        out = gitrepo.git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        name = out.stdout.strip() if out.returncode == 0 else None
    return name or None


def repository(env: Mapping[str, str], repo: Path) -> str:
    """Which repository applies: GITHUB_REPOSITORY, else the `origin` remote's OWNER/NAME, else the checkout's
    path. Several repositories may manage models of one registry: each has its own record per branch."""
    name = envvars.text("GITHUB_REPOSITORY", env, envvars.REPOSITORY, "OWNER/NAME")
    if name:
        return name
    out = gitrepo.git(repo, "remote", "get-url", "origin", check=False)
    found = re.search(r"[:/]([^/:]+/[^/:]+?)(?:\.git)?/?$", out.stdout.strip()) if out.returncode == 0 else None
    return found.group(1) if found else str(repo.resolve())


def key(where: str) -> str:
    """The tag key of a repository's branch record (MLflow tag keys: letters, digits, `_-./` and spaces; at most
    250 characters: a longer name is replaced by its digest)."""
    name = re.sub(r"[^A-Za-z0-9_./-]", "_", where.strip("/"))
    if len(name) > 200:
        name = "sha256-" + hashlib.sha256(where.encode()).hexdigest()[:32]
    return APPLIED_TAG + name


def last(store: Store, where: str) -> tuple[bool, Applied | None]:
    """(whether the record model exists, what `where` (REPOSITORY/BRANCH) last applied) in one read."""
    model = store.registered_model(APPLIED_MODEL)
    return model is not None, parse(model.tags.get(key(where)) if model else None)


def parse(raw: str | None) -> Applied | None:
    try:
        record = json.loads(raw) if raw else None
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("commit"), str):
        return None
    return Applied(record["commit"], str(record.get("at", "")), str(record.get("actor", "")))


def relation(repo: Path, commit: str, before: str) -> str:
    """How `commit` stands to `before`: 'same', 'newer' (a descendant), 'older' (an ancestor), 'unrelated',
    or 'unknown' (`before` is not in this clone)."""
    if commit == before:
        return "same"
    if gitrepo.git(repo, "cat-file", "-e", f"{before}^{{commit}}", check=False).returncode != 0:
        return "unknown"
    if gitrepo.git(repo, "merge-base", "--is-ancestor", before, commit, check=False).returncode == 0:
        return "newer"
    if gitrepo.git(repo, "merge-base", "--is-ancestor", commit, before, check=False).returncode == 0:
        return "older"
    return "unrelated"


@dataclass
class HeadGuard:
    """apply's check that it applies the branch head (or newer than what the branch last applied), and the
    record of what it applied. `allow_older`: the reason an older or unrelated commit is applied anyway."""

    store: Store
    repo: Path
    repository: str
    branch: str
    ctx: Context
    allow_older: str | None = None
    previous: Applied | None = None
    exists: bool = False  # the record model exists (read by `check`)
    overridden: Applied | None = None  # the newer record `allow_older` applied over (for every move's audit record)
    where: str = ""  # which registry the record is in, for the refusal ("the registry of environment 'prod'")

    def check(self) -> None:
        """Raise OperationFailed (exit 1) unless the commit is the one last applied on the branch or newer."""
        commit = self.ctx.commit or ""
        self.exists, self.previous = last(self.store, f"{self.repository}/{self.branch}")
        if self.previous is None or not commit:
            return
        found = relation(self.repo, commit, self.previous.commit)
        if found in ("same", "newer"):
            return
        if self.allow_older:
            self.overridden = self.previous
            return
        raise OperationFailed(refusal(found, commit, self.previous, self.branch, self.where))

    def audit_fields(self) -> dict[str, object]:
        """What an apply of an older or unrelated commit records in each move's audit record."""
        if not self.allow_older or self.overridden is None:
            return {}
        return {"allow_older": self.allow_older, "last_applied": self.overridden.commit}

    def record(self) -> None:
        """Write the commit as the branch's last applied one (nothing when it is already)."""
        commit = self.ctx.commit
        if not commit or (self.previous and self.previous.commit == commit):
            return
        record = {"commit": commit, "at": self.ctx.at, "actor": self.ctx.actor, "branch": self.branch}
        value = json.dumps({**record, "repository": self.repository}, sort_keys=True)
        where = key(f"{self.repository}/{self.branch}")
        if self.exists or not self.store.create_registered_model(
            APPLIED_MODEL, {where: value}, "modelpins: the pins commit each repository's branch last applied"
        ):
            self.store.set_registered_model_tag(APPLIED_MODEL, where, value)
        self.exists, self.previous = True, Applied(commit, self.ctx.at, self.ctx.actor)


def refusal(found: str, commit: str, previous: Applied, branch: str, where: str = "") -> str:
    why = {
        "older": "is older than (an ancestor of)",
        "unrelated": "is not a descendant of",
        "unknown": "cannot be compared with (it is not in this clone: fetch the full history, fetch-depth: 0)",
    }[found]
    by = f" by {previous.actor}" if previous.actor else ""
    at = f" at {previous.at}" if previous.at else ""
    registry = f" in {where}" if where else ""
    return (
        f"refusing to apply {commit[:12]}: it {why} {previous.commit[:12]}, which {branch} last applied{registry}"
        f"{at}{by}. "
        "Applying it would roll the registry back to an older file. Apply the branch head instead "
        f"(git checkout {branch} && git pull); a rollback is a new commit (`modelpins rollback`). "
        "For a deliberate emergency: apply --allow-older --reason TEXT (recorded in the audit records)"
    )
