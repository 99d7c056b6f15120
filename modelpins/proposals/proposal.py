"""A proposed alias move: the edit of the pins file, the branch it is committed on, and its pull request.

`rollback` and `promote` both make one. The edit touches only the version's characters
(a one-line diff; a new alias is one new line, a new model one new block). The branch is
made from HEAD; the pull request is opened through the GitHub API when a token is there,
else the `gh pr create` line to open it by hand is printed. Titles, bodies and branch
names reach git and gh as separate arguments, never through a shell.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelpins import envvars, gitrepo, pins
from modelpins.errors import InvalidInput, InvalidPins, OperationFailed
from modelpins.proposals import yamledit

if TYPE_CHECKING:
    from modelpins.github_api import GitHubAPI


def retarget(
    doc: yamledit.Doc, p: pins.PinsFile, model: str, alias: str, version: int, keep_waivers: bool = False
) -> list[yamledit.Splice]:
    """Splices pointing `model@alias` at `version`; the alias's waiver goes (its block too, unless `keep_waivers`)."""
    if model not in p.models:
        from modelpins.proposals.importer import add_models

        entry = pins.ModelPins(name=model, aliases={alias: pins.AliasPin(alias=alias, version=version)})
        return [yamledit.Splice(0, len(doc.text), add_models(doc.text, doc.path, {model: entry}))]
    aliases = doc.aliases(model)
    value = doc.get(aliases, alias)
    if value is None:
        splices = [doc.insert_entry(aliases, f"{alias}: {version}", f"aliases of '{model}'")]
    else:
        splices = [doc.replace(value[1], str(version))]
    existing = doc.get(doc.model(model), "waivers")
    waivers = existing[1] if existing else None
    if waivers is not None and doc.get(waivers, alias):
        if not keep_waivers and len(waivers.value) == 1:
            splices.append(doc.remove_entry(doc.model(model), "waivers", f"model '{model}'"))
        else:
            splices.append(doc.remove_entry(waivers, alias, f"waivers of '{model}'"))
    return splices


def edited(text: str, path: str, splices: list[yamledit.Splice], what: str) -> str:
    """The file with `splices` applied; InvalidInput when it would not validate (nothing is written)."""
    new_text = yamledit.apply(text, splices)
    try:
        pins.loads(new_text, path)
    except InvalidPins as exc:
        raise InvalidInput(f"the {what} file would not be valid:\n{exc}") from None
    return new_text


def diff(old_text: str, new_text: str, path: str) -> str:
    return "".join(
        difflib.unified_diff(
            old_text.splitlines(keepends=True), new_text.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )


def current_branch(path: Path) -> str:
    """The branch checked out in the pins file's repository (the pull request's base)."""
    repo, _ = gitrepo.locate(path)
    name = gitrepo.git(repo, "branch", "--show-current").stdout.strip()
    if not name:
        raise InvalidInput(f"{repo} has a detached HEAD; check out the branch the pull request should target")
    return name


def commit_on_branch(source: yamledit.Source, branch: str, message: str, new_text: str) -> str:
    """Commit `new_text` as the pins file on a new `branch` made from HEAD; return the new commit.

    Plumbing only (a blob, a tree from a private index, a commit, a new ref): the checkout, its branch, its index
    and every file in the working tree stay as they were."""
    repo, rel = gitrepo.locate(source.path)
    if branch.startswith("-") or gitrepo.git(repo, "check-ref-format", "--branch", branch, check=False).returncode:
        raise InvalidInput(f"'{branch}' is not a valid branch name")
    if gitrepo.git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0:
        raise InvalidInput(f"branch '{branch}' already exists; choose another name or delete it")
    if gitrepo.git(repo, "status", "--porcelain", "--", rel).stdout.strip():
        raise InvalidInput(
            f"{rel} has uncommitted changes; commit or stash them first (the pull request's branch starts at HEAD)"
        )
    head = gitrepo.git(repo, "rev-parse", "--verify", "HEAD^{commit}").stdout.strip()
    blob = gitrepo.git(repo, "hash-object", "-w", "--stdin", f"--path={rel}", stdin=new_text).stdout.strip()
    mode = (gitrepo.git(repo, "ls-tree", "HEAD", "--", rel).stdout.split() or ["100644"])[0]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        gitrepo.git(repo, "read-tree", head, env=env)
        gitrepo.git(repo, "update-index", "--add", "--cacheinfo", f"{mode},{blob},{rel}", env=env)
        tree = gitrepo.git(repo, "write-tree", env=env).stdout.strip()
    made = gitrepo.git(repo, "commit-tree", tree, "-p", head, "-F", "-", stdin=message, check=False)
    if made.returncode != 0:
        raise OperationFailed(f"git commit-tree failed; nothing was changed: {made.stderr.strip()[:300]}")
    commit = made.stdout.strip()
    # the empty old value makes the ref update fail, rather than move, a branch made meanwhile
    gitrepo.git(repo, "update-ref", "-m", "modelpins: propose", f"refs/heads/{branch}", commit, "")
    return commit


def has_origin(path: Path) -> bool:
    """Whether the pins file's repository has a remote named origin (where the branch would be pushed)."""
    repo, _ = gitrepo.locate(path)
    return gitrepo.git(repo, "remote", "get-url", "origin", check=False).returncode == 0


def branch_exists(path: Path, branch: str) -> bool:
    """Whether `branch` is already in the pins file's repository, or on its origin (asked with git ls-remote)."""
    repo, _ = gitrepo.locate(path)
    if gitrepo.git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0:
        return True
    if not has_origin(path):
        return False
    asked = gitrepo.git(repo, "ls-remote", "--exit-code", "--heads", "origin", f"refs/heads/{branch}", check=False)
    return asked.returncode == 0


@dataclass(frozen=True)
class PullRequest:
    title: str
    body: str
    head: str
    base: str

    def gh_command(self) -> str:
        """The shell line that pushes the branch and opens this pull request with the GitHub CLI."""
        q = shlex.quote
        return (
            f"git push -u origin {q(self.head)} && gh pr create --base {q(self.base)} --head {q(self.head)} "
            f"--title {q(self.title)} --body {q(self.body)}"
        )


def github_client(path: Path, env: Mapping[str, str]) -> GitHubAPI:
    """The client for $GITHUB_REPOSITORY, else the repository origin points at (made before anything is written)."""
    from modelpins import github_api

    if not env.get("GITHUB_REPOSITORY"):
        env = {**env, "GITHUB_REPOSITORY": repository_of(gitrepo.locate(path)[0])}
    return github_api.from_env(env)


def open_pr(api: GitHubAPI, path: Path, pr: PullRequest) -> str:
    """Push the branch to origin and open the pull request through the GitHub API; return its URL."""
    repo, _ = gitrepo.locate(path)
    pushed = gitrepo.git(repo, "push", "--quiet", "-u", "origin", f"refs/heads/{pr.head}", check=False)
    if pushed.returncode != 0:
        raise OperationFailed(
            f"git push of branch '{pr.head}' to origin failed (the commit is on the branch locally; push it and "
            f"open the pull request by hand): {pushed.stderr.strip()[:300]}"
        )
    created = api.create_pull(pr.title, pr.head, pr.base, pr.body)
    return str(created.get("html_url") or created.get("url") or "")


GITHUB_REMOTE_RE = re.compile(r"(?:[:/])([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def repository_of(repo: Path) -> str:
    """OWNER/NAME from the origin remote's URL; InvalidInput saying to set GITHUB_REPOSITORY otherwise."""
    url = gitrepo.git(repo, "remote", "get-url", "origin", check=False).stdout.strip()
    m = GITHUB_REMOTE_RE.search(url) if "github" in url else None
    if not m or not envvars.REPOSITORY.fullmatch(f"{m.group(1)}/{m.group(2)}"):
        raise InvalidInput(
            f"cannot tell the GitHub repository from origin ({url or 'no origin remote'}); "
            "fix: set GITHUB_REPOSITORY=OWNER/NAME"
        )
    return f"{m.group(1)}/{m.group(2)}"


@dataclass(frozen=True)
class Proposed:
    """What `propose` did: the diff, and the commit and pull request when it made them (or how to open one)."""

    diff: str
    branch: str | None = None
    sha: str = ""
    pr_url: str = ""
    gh_command: str = ""
    no_token: bool = False
    no_origin: bool = False


def propose(
    pins_path: Path,
    source: yamledit.Source,
    new_text: str,
    branch: str | None,
    want_pr: bool,
    env: Mapping[str, str],
    message: str,
    title: str,
    body: Callable[[str], str],
) -> Proposed:
    """Write the edit in place, or commit it on `branch`; then open the pull request when asked and possible.

    With a branch the working tree is never touched: the commit is made with git's plumbing."""
    base = current_branch(pins_path) if branch else ""
    if branch and want_pr and env.get("GITHUB_TOKEN") and not has_origin(pins_path):
        raise InvalidInput(
            "--open-pr pushes to the remote 'origin', which this repository does not have; add it "
            "(git remote add origin URL) or leave out --open-pr to commit on a branch only"
        )
    api = github_client(pins_path, env) if want_pr and env.get("GITHUB_TOKEN") else None  # checked before any write
    if branch:
        sha = commit_on_branch(source, branch, message, new_text)
    else:
        yamledit.write(source, new_text)
    shown = diff(source.text, new_text, pins_path.name)
    if not branch:
        return Proposed(shown)
    pr = PullRequest(title, body(base), branch, base)
    if api is not None:
        return Proposed(shown, branch, sha, pr_url=open_pr(api, pins_path, pr))
    return Proposed(
        shown, branch, sha, gh_command=pr.gh_command(), no_token=want_pr, no_origin=not has_origin(pins_path)
    )
