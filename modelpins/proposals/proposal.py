"""A proposed alias move: the edit of the pins file, the branch it is committed on, and its pull request.

`rollback` and `promote` both make one. The edit touches only the version's characters
(a one-line diff; a new alias is one new line, a new model one new block). The branch is
made from HEAD; the pull request is opened through the GitHub API when a token is there,
else the `gh pr create` line to open it by hand is printed. Titles, bodies and branch
names reach git and gh as separate arguments, never through a shell.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping
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
    """Create `branch` from HEAD, write the file and commit it there; return the new commit.

    The write is `yamledit.write`'s: line endings kept, refused if the file changed since `source`."""
    path = source.path
    repo, rel = gitrepo.locate(path)
    if branch.startswith("-") or gitrepo.git(repo, "check-ref-format", "--branch", branch, check=False).returncode:
        raise InvalidInput(f"'{branch}' is not a valid branch name")
    if gitrepo.git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0:
        raise InvalidInput(f"branch '{branch}' already exists; choose another name or delete it")
    dirty = gitrepo.git(repo, "status", "--porcelain", "--", rel).stdout.strip()
    if dirty:
        raise InvalidInput(f"{rel} has uncommitted changes; commit or stash them before using --branch")
    gitrepo.git(repo, "switch", "--quiet", "-c", branch)
    yamledit.write(source, new_text)
    gitrepo.git(repo, "add", "--", rel)
    out = gitrepo.git(repo, "commit", "--quiet", "-m", message, "--", rel, check=False)
    if out.returncode != 0:
        raise OperationFailed(
            f"git commit failed on branch '{branch}' (the file is edited there): {out.stderr.strip()[:300]}"
        )
    return gitrepo.git(repo, "rev-parse", "HEAD").stdout.strip()


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
