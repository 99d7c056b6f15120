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

from modelpins import envvars

PR_NUMBER = re.compile(r"[1-9][0-9]{0,8}", re.ASCII)
RUN_ID = re.compile(r"[0-9]{1,20}", re.ASCII)


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
    actor = envvars.text("MODELPINS_ACTOR", env) or envvars.text("GITHUB_ACTOR", env) or _local_user(repo_dir)
    commit = (
        envvars.text("MODELPINS_COMMIT", env, envvars.COMMIT, "a git commit, 7 to 64 hex digits")
        or commit
        or envvars.text("GITHUB_SHA", env, envvars.COMMIT, "a git commit, 7 to 64 hex digits")
        or _git(repo_dir, "rev-parse", "HEAD")
    )
    pr = envvars.text("MODELPINS_PR", env, PR_NUMBER, "a pull request number, 1 to 999999999")
    pr = pr or _pr_from_ref(env.get("GITHUB_REF", ""))
    if not pr and commit:
        pr = _pr_from_message(_git(repo_dir, "log", "-1", "--format=%s", commit) or "")
    run_url = None
    run_id = envvars.text("GITHUB_RUN_ID", env, RUN_ID, "digits")
    repository = envvars.text("GITHUB_REPOSITORY", env, envvars.REPOSITORY, "OWNER/NAME")
    if run_id and repository:
        server = envvars.text("GITHUB_SERVER_URL", env, envvars.HTTP_URL, "an http(s) URL without spaces")
        server = server or "https://github.com"
        run_url = f"{server}/{repository}/actions/runs/{run_id}"
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
