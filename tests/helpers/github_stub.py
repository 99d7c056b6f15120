"""A local HTTP server standing in for the GitHub REST API (no GitHub can be reached from here).

It implements only what modelpins calls: issue comments (list with page links, create,
edit), opening and listing pull requests, pull request reviews, commit statuses, and team
lookups. It checks the bearer token like GitHub does (401 otherwise) and records every request,
so tests see what the tool really sent.

Every request and every answer is checked against GitHub's official OpenAPI description (the
excerpt in github_openapi.json, from the pinned npm package @octokit/openapi): the operation must
exist, its query and body must fit the operation's schema, and the answer must fit the schema of
its status code. The answers are GitHub's own examples from that description with this stand-in's
state written over them. A mismatch is answered with a 500 that names it, kept in `mismatches`,
and raised by `stop()`, so the test fails. It does not prove GitHub's own rules (who may edit which
comment, rate limits, what GitHub does with the values it accepts).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers import github_openapi

TOKEN = "ghs_stubtoken0123456789abcdefghijklmnop"


@dataclass
class GitHubStub:
    repo: str = "acme/models"
    token: str = TOKEN
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    teams: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    teams_readable: bool = True
    teams_token: str | None = None  # when set, team lookups need this token instead
    pulls: list[dict[str, Any]] = field(default_factory=list)  # pull requests opened through the API
    open_pulls: list[dict[str, Any]] = field(default_factory=list)  # what listing open pull requests answers
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # commit statuses set, by sha
    comments_writable: bool = True  # False: a read-only token, comment writes answer 403 as GitHub does
    log: list[tuple[str, str]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # what GitHub's description does not allow
    server: ThreadingHTTPServer | None = None
    _next_id: int = 1000

    @property
    def url(self) -> str:
        assert self.server
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self, **extra: str) -> dict[str, str]:
        return {"GITHUB_TOKEN": self.token, "GITHUB_REPOSITORY": self.repo, "GITHUB_API_URL": self.url, **extra}

    def add_comment(self, pr: int, body: str, login: str) -> dict[str, Any]:
        self._next_id += 1
        n, web = self._next_id, f"https://github.com/{self.repo}"
        c = example("issue-comment") | {
            "id": n,
            "node_id": f"IC_{n}",
            "url": f"{API}/repos/{self.repo}/issues/comments/{n}",
            "html_url": f"{web}/pull/{pr}#issuecomment-{n}",
            "issue_url": f"{API}/repos/{self.repo}/issues/{pr}",
            "body": body,
            "user": user(login),
        }
        self.comments.setdefault(pr, []).append(c)
        return c

    def add_review(self, pr: int, login: str, state: str, commit_id: str = "headsha") -> None:
        self._next_id += 1
        n, web = self._next_id, f"https://github.com/{self.repo}/pull/{pr}"
        self.reviews.setdefault(pr, []).append(
            example("pull-request-review")
            | {
                "id": n,
                "node_id": f"PRR_{n}",
                "user": user(login),
                "state": state,
                "commit_id": commit_id,
                "html_url": f"{web}#pullrequestreview-{n}",
                "pull_request_url": f"{API}/repos/{self.repo}/pulls/{pr}",
                "_links": {"html": {"href": f"{web}#pullrequestreview-{n}"}, "pull_request": {"href": web}},
            }
        )

    def new_pull(self, asked: dict[str, Any]) -> dict[str, Any]:
        """A pull request as GitHub answers its creation: the example with this request's values."""
        n = len(self.pulls) + 1
        pull = example("pull-request")
        web, url = f"https://github.com/{self.repo}/pull/{n}", f"{API}/repos/{self.repo}/pulls/{n}"
        pull |= {"number": n, "html_url": web, "url": url, "title": asked["title"], "body": asked.get("body")}
        pull["head"]["ref"], pull["base"]["ref"] = asked["head"], asked["base"]
        # The example's requested team lacks `type`, which its own schema (team) requires.
        pull["requested_teams"] = []
        return pull

    def open_pull(self, number: int, head_sha: str, head_repo: str, base_sha: str) -> None:
        """An open pull request as GitHub lists it (a fork's when `head_repo` is not this repository)."""
        items: Any = example("pull-request-simple-items")  # a list: GitHub's example answer
        pull: dict[str, Any] = items[0]
        pull |= {"number": number, "html_url": f"https://github.com/{self.repo}/pull/{number}", "state": "open"}
        pull["head"] = pull["head"] | {"sha": head_sha, "repo": pull["head"]["repo"] | {"full_name": head_repo}}
        pull["base"] = pull["base"] | {"sha": base_sha}
        pull["requested_teams"] = []  # the example's team lacks `type`, which its own schema requires
        self.open_pulls.append(pull)

    def team(self, org: str, slug: str) -> dict[str, Any]:
        team = example("team-full") | {
            "slug": slug,
            "name": slug,
            "html_url": f"https://github.com/orgs/{org}/teams/{slug}",
        }
        # The example lacks `type` and `organization.archived_at`, which its own schema requires.
        team["type"] = "organization"
        team["organization"] |= {"login": org, "archived_at": None}
        return team

    def start(self) -> GitHubStub:
        stub = self
        repo = re.escape(self.repo)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            asked: tuple[str, str, str, dict[str, str]]  # method, path, query, headers of the request

            def log_message(self, *args: object) -> None:
                pass

            def send(self, status: int, data: Any = None, headers: dict[str, str] | None = None) -> None:
                body = b"" if data is None else json.dumps(data).encode()
                if found := github_openapi.response_errors(*self.asked, status, body, headers or {}):
                    self.refuse(found)
                    return
                self.answer(status, body, headers)

            def refuse(self, found: list[str]) -> None:
                """Answer a mismatch with a 500 that names it, and keep it for stop()."""
                stub.mismatches.extend(found)
                self.answer(500, json.dumps({"message": "; ".join(found)}).encode())

            def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def page(self, items: list[Any], query: dict[str, list[str]], path: str) -> None:
                per = int(query.get("per_page", ["30"])[0])
                n = int(query.get("page", ["1"])[0])
                chunk = items[(n - 1) * per : n * per]
                headers = {}
                if n * per < len(items):
                    headers["Link"] = f'<{stub.url}{path}?per_page={per}&page={n + 1}>; rel="next"'
                self.send(200, chunk, headers)

            def handle_any(self) -> None:
                parts = urlsplit(self.path)
                path, query = parts.path, parse_qs(parts.query)
                stub.log.append((self.command, path))
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.asked = (self.command, path, parts.query, dict(self.headers.items()))
                if found := github_openapi.request_errors(*self.asked, raw):
                    return self.refuse(found)
                team_call = path.startswith("/orgs/")
                wanted = stub.teams_token if team_call and stub.teams_token else stub.token
                if self.headers.get("Authorization") != f"Bearer {wanted}":
                    if team_call:
                        return self.send(404, NOT_FOUND)
                    return self.send(401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"})
                body = json.loads(raw) if raw else {}
                if m := re.fullmatch(rf"/repos/{repo}/issues/(\d+)/comments", path):
                    pr = int(m.group(1))
                    if self.command == "GET":
                        return self.page(stub.comments.get(pr, []), query, path)
                    if self.command == "POST" and not stub.comments_writable:
                        return self.send(403, FORBIDDEN)
                    if self.command == "POST":
                        return self.send(201, stub.add_comment(pr, body["body"], "github-actions[bot]"))
                if (m := re.fullmatch(rf"/repos/{repo}/issues/comments/(\d+)", path)) and self.command == "PATCH":
                    for c in (c for cs in stub.comments.values() for c in cs):
                        if c["id"] == int(m.group(1)):
                            c["body"] = body["body"]
                            return self.send(200, c)
                    return self.send(404, NOT_FOUND)
                if path == f"/repos/{stub.repo}/pulls" and self.command == "GET":
                    return self.page(stub.open_pulls, query, path)
                if (m := re.fullmatch(rf"/repos/{repo}/statuses/([0-9a-f]{{40}})", path)) and self.command == "POST":
                    stub._next_id += 1
                    status = example("status") | body | {"id": stub._next_id}
                    stub.statuses.setdefault(m.group(1), []).append(status)
                    return self.send(201, status)
                if path == f"/repos/{stub.repo}/pulls" and self.command == "POST":
                    missing = [k for k in ("title", "head", "base") if not body.get(k)]
                    if missing:
                        errors = [{"resource": "PullRequest", "field": k, "code": "missing_field"} for k in missing]
                        return self.send(
                            422, {"message": "Validation Failed", "errors": errors, "documentation_url": DOCS}
                        )
                    pull = stub.new_pull(body)
                    stub.pulls.append(pull)
                    return self.send(201, pull)
                if (m := re.fullmatch(rf"/repos/{repo}/pulls/(\d+)/reviews", path)) and self.command == "GET":
                    return self.page(stub.reviews.get(int(m.group(1)), []), query, path)
                if m := re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)(/memberships/([^/]+))?", path):
                    key = (m.group(1), m.group(2))
                    if not stub.teams_readable or key not in stub.teams:
                        return self.send(404, NOT_FOUND)
                    if m.group(4) is None:
                        return self.send(200, stub.team(*key))
                    if m.group(4) in stub.teams[key]:
                        membership = example("team-membership-response-if-user-is-a-team-maintainer")
                        url = f"{API}/teams/1/memberships/{m.group(4)}"
                        return self.send(200, membership | {"url": url, "state": "active", "role": "member"})
                    return self.send(404, NOT_FOUND)
                return self.send(404, NOT_FOUND)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving; fail if any request or answer did not fit GitHub's description."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.mismatches:
            source = f"{github_openapi.PACKAGE}@{github_openapi.VERSION}"
            raise AssertionError(
                f"the GitHub stand-in saw requests or gave answers that GitHub's OpenAPI description ({source}) "
                "does not allow:\n  " + "\n  ".join(self.mismatches)
            )


API = github_openapi.API_HOST
DOCS = "https://docs.github.com/rest"
NOT_FOUND = {"message": "Not Found", "documentation_url": DOCS, "status": "404"}
FORBIDDEN = {"message": "Resource not accessible by integration", "documentation_url": DOCS, "status": "403"}


def example(name: str) -> dict[str, Any]:
    """A fresh copy of GitHub's example object `name` from the description."""
    value: dict[str, Any] = copy.deepcopy(github_openapi.description()["components"]["examples"][name]["value"])
    return value


def user(login: str) -> dict[str, Any]:
    """GitHub's example user, renamed; logins ending in [bot] are apps' bot accounts, as on GitHub."""
    u = example("issue-comment")["user"]
    base = f"{API}/users/{login}"
    return u | {
        "login": login,
        "type": "Bot" if login.endswith("[bot]") else "User",
        "url": base,
        "html_url": f"https://github.com/{login}",
        **{k: v.replace(u["url"], base) for k, v in u.items() if k.endswith("_url") and k not in ("url", "html_url")},
    }
