"""Who is applying, from which commit and pull request: read from the environment once.

GitHub Actions sets GITHUB_ACTOR, GITHUB_SHA, GITHUB_SERVER_URL, GITHUB_REPOSITORY
and GITHUB_RUN_ID; MODELPINS_ACTOR, MODELPINS_COMMIT and MODELPINS_PR override
them (for other CI systems, or a PR number found from the merge commit). CI=true or
GITHUB_ACTIONS=true means a CI run. A pins file that differs from the commit is `dirty`:
its audit records say so and name no PR (the PR did not pin what is applied).
"""

from __future__ import annotations

import getpass
import re
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass(frozen=True)
class Context:
    actor: str
    commit: str | None
    pr: str | None
    run_url: str | None
    at: str
    dirty: bool = False  # the applied pins file has uncommitted changes
    ci: bool = False

    def as_dict(self) -> dict[str, str | bool]:
        return {k: v for k, v in asdict(self).items() if v and k != "ci"}


def from_env(
    env: Mapping[str, str], repo_dir: Path | None = None, commit: str | None = None, pins: Path | None = None
) -> Context:
    """`commit`: the commit whose file is applied (drift --fix apply's ref); default GITHUB_SHA, then HEAD.

    `pins`: the working-copy file being applied, checked for uncommitted changes.
    """
    actor = env.get("MODELPINS_ACTOR") or env.get("GITHUB_ACTOR") or _local_user(repo_dir)
    commit = env.get("MODELPINS_COMMIT") or commit or env.get("GITHUB_SHA") or _git(repo_dir, "rev-parse", "HEAD")
    pr = env.get("MODELPINS_PR") or _pr_from_ref(env.get("GITHUB_REF", ""))
    if not pr and commit:
        pr = _pr_from_message(_git(repo_dir, "log", "-1", "--format=%s", commit) or "")
    run_url = None
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        run_url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    dirty = pins is not None and bool(_git(pins.resolve().parent, "status", "--porcelain", "--", pins.resolve().name))
    ci = env.get("CI", "").lower() == "true" or env.get("GITHUB_ACTIONS") == "true"
    return Context(actor=actor, commit=commit, pr=None if dirty else pr, run_url=run_url, at=at, dirty=dirty, ci=ci)


def _pr_from_ref(ref: str) -> str | None:
    m = re.fullmatch(r"refs/pull/(\d+)/(merge|head)", ref)
    return m.group(1) if m else None


def _pr_from_message(subject: str) -> str | None:
    """GitHub's merge and squash subjects: 'Merge pull request #12 from ...' / 'Title (#12)'."""
    m = re.match(r"Merge pull request #(\d+)", subject) or re.search(r"\(#(\d+)\)\s*$", subject)
    return m.group(1) if m else None


def _local_user(repo_dir: Path | None) -> str:
    return _git(repo_dir, "config", "user.email") or getpass.getuser()


def _git(repo_dir: Path | None, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo_dir, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
