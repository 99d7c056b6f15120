"""The GitHub REST API, as far as modelpins needs it: PR comments, opening PRs, reviews, team membership.

The token comes from $GITHUB_TOKEN (team lookups may use $MODELPINS_TEAMS_TOKEN, one that
can read the organization's teams) and is only ever sent as a header to $GITHUB_API_URL
(default https://api.github.com); it is never printed, and pagination links that point
anywhere else are not followed. Errors name the request and GitHub's message, not the token.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from modelpins import envvars
from modelpins.errors import InvalidInput, OperationFailed

MARKER = "<!-- modelpins:plan -->"
MAX_COMMENT = 65_000  # GitHub refuses comment bodies over 65,536 characters
DEFAULT_AUTHOR = "github-actions[bot]"  # who posts with the workflow's GITHUB_TOKEN


@dataclass(frozen=True)
class Review:
    login: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    commit_id: str


class GitHubAPI:
    def __init__(self, token: str, repository: str, api_url: str = "https://api.github.com", timeout: float = 30):
        import requests  # deferred: only the GitHub commands need it

        if not envvars.REPOSITORY.fullmatch(repository):
            raise InvalidInput(f"repository '{repository}' must be written OWNER/NAME (set GITHUB_REPOSITORY)")
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "modelpins",
            }
        )

    def __repr__(self) -> str:  # never shows the token
        return f"GitHubAPI({self.repository!r}, {self.api_url!r})"

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        url = path if path.startswith(self.api_url + "/") else f"{self.api_url}{path}"
        return self._send(method, url, body)[0]

    def pages(self, path: str) -> Iterator[Any]:
        """Every item of a list endpoint, following rel="next" links on the API host only."""
        url: str | None = f"{self.api_url}{path}{'&' if '?' in path else '?'}per_page=100"
        while url:
            data, links = self._send("GET", url, None)
            yield from data
            url = links.get("next", {}).get("url")
            if url and urlsplit(url).netloc != urlsplit(self.api_url).netloc:
                raise OperationFailed(f"GitHub returned a next-page link to another host ({urlsplit(url).netloc})")

    def _send(self, method: str, url: str, body: Mapping[str, Any] | None) -> tuple[Any, dict[str, Any]]:
        import requests

        where = f"{method} {urlsplit(url).path}"
        try:
            resp = self._session.request(method, url, json=body, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise OperationFailed(f"GitHub API {where}: {type(exc).__name__}; is {self.api_url} reachable?") from None
        if resp.status_code >= 300:
            raise GitHubError(resp.status_code, f"GitHub API {where}: {resp.status_code} {_message(resp)}")
        return (resp.json() if resp.content else None), dict(resp.links)

    # --- pull request comments -------------------------------------------------

    def upsert_comment(
        self, pr: int, body: str, marker: str = MARKER, author: str = DEFAULT_AUTHOR
    ) -> tuple[str, dict[str, Any]]:
        """Edit this tool's earlier comment on the PR (found by `marker` and `author`), or post one.

        Returns ("updated" | "created", the comment). Comments by anyone else that happen to
        contain the marker are left alone.
        """
        body = with_marker(body, marker)
        for comment in self.pages(f"/repos/{self.repository}/issues/{pr}/comments"):
            if marker in (comment.get("body") or "") and (comment.get("user") or {}).get("login") == author:
                path = f"/repos/{self.repository}/issues/comments/{comment['id']}"
                return "updated", self.request("PATCH", path, {"body": body})
        return "created", self.request("POST", f"/repos/{self.repository}/issues/{pr}/comments", {"body": body})

    # --- pull requests ---------------------------------------------------------

    def create_pull(self, title: str, head: str, base: str, body: str) -> dict[str, Any]:
        """Open a pull request from branch `head` into `base`; GitHub's answer (number, html_url, ...)."""
        data = {"title": title, "head": head, "base": base, "body": body}
        return dict(self.request("POST", f"/repos/{self.repository}/pulls", data) or {})

    def open_pull_for(self, head_sha: str, head_repository: str = "") -> dict[str, Any] | None:
        """The open pull request whose head is `head_sha` (from `head_repository`, when given), or None."""
        for pull in self.pages(f"/repos/{self.repository}/pulls?state=open"):
            head = pull.get("head") or {}
            repo = (head.get("repo") or {}).get("full_name") or ""
            if head.get("sha") == head_sha and (not head_repository or repo.lower() == head_repository.lower()):
                return dict(pull)
        return None

    def set_status(self, sha: str, state: str, context: str, description: str, target_url: str = "") -> None:
        """A commit status on `sha` (what branch protection can require): pending, success, failure or error."""
        data = {"state": state, "context": context, "description": description[:140]}
        if target_url:
            data["target_url"] = target_url
        self.request("POST", f"/repos/{self.repository}/statuses/{sha}", data)

    # --- reviews and teams -----------------------------------------------------

    def reviews(self, pr: int) -> list[Review]:
        return [
            Review((r.get("user") or {}).get("login", ""), r.get("state", ""), r.get("commit_id") or "")
            for r in self.pages(f"/repos/{self.repository}/pulls/{pr}/reviews")
        ]

    def team_member(self, org: str, team: str, login: str) -> bool | None:
        """True/False when the token can read the team; None when it cannot (needs org read access)."""
        try:
            self.request("GET", f"/orgs/{org}/teams/{team}")
        except GitHubError as exc:
            if exc.status in (401, 403, 404):
                return None
            raise
        try:
            membership = self.request("GET", f"/orgs/{org}/teams/{team}/memberships/{login}")
        except GitHubError as exc:
            if exc.status == 404:
                return False
            raise
        return bool(membership and membership.get("state") == "active")


class GitHubError(OperationFailed):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def with_marker(body: str, marker: str = MARKER) -> str:
    """The body with the marker on its first line, cut to GitHub's size limit."""
    if len(body) > MAX_COMMENT:
        body = body[:MAX_COMMENT] + "\n\n(cut to GitHub's comment size limit; the job summary has the rest)"
    return body if body.startswith(marker) else f"{marker}\n{body}"


def from_env(env: Mapping[str, str] | None = None, env_var: str = "GITHUB_TOKEN") -> GitHubAPI:
    """A client for $GITHUB_REPOSITORY at $GITHUB_API_URL with the token in $`env_var`."""
    env = os.environ if env is None else env
    token = envvars.secret(env_var, env) or ""
    if not token:
        raise InvalidInput(
            f"{env_var} is not set; in a workflow pass it with 'env: {env_var}: ${{{{ github.token }}}}'"
        )
    repository = envvars.text("GITHUB_REPOSITORY", env, envvars.REPOSITORY, "OWNER/NAME") or ""
    if not repository:
        raise InvalidInput("GITHUB_REPOSITORY is not set; set it to OWNER/NAME")
    api_url = (
        envvars.text("GITHUB_API_URL", env, envvars.HTTP_URL, "an http(s) URL without spaces")
        or "https://api.github.com"
    )
    return GitHubAPI(token, repository, api_url)


def _message(resp: Any) -> str:
    try:
        data = resp.json()
    except ValueError:
        return (resp.text or "")[:200]
    return str(data.get("message", ""))[:200] if isinstance(data, dict) else ""
