"""A local HTTP server standing in for the GitHub REST API (no GitHub can be reached from here).

It implements only what modelpins calls: issue comments (list with page links, create,
edit), opening a pull request, pull request reviews, and team lookups. It checks the bearer token like GitHub
does (401 otherwise) and records every request, so tests see what the tool really sent.
It does not prove GitHub's own rules (who may edit which comment, rate limits, the exact
shape of every field); it follows the documented shapes of the fields modelpins reads.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
    log: list[tuple[str, str]] = field(default_factory=list)
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
        c = {"id": self._next_id, "body": body, "user": {"login": login}, "html_url": f"https://gh/c/{self._next_id}"}
        self.comments.setdefault(pr, []).append(c)
        return c

    def add_review(self, pr: int, login: str, state: str, commit_id: str = "headsha") -> None:
        self._next_id += 1
        self.reviews.setdefault(pr, []).append(
            {"id": self._next_id, "user": {"login": login}, "state": state, "commit_id": commit_id}
        )

    def start(self) -> GitHubStub:
        stub = self
        repo = re.escape(self.repo)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def send(self, status: int, data: Any = None, headers: dict[str, str] | None = None) -> None:
                body = b"" if data is None else json.dumps(data).encode()
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
                team_call = path.startswith("/orgs/")
                wanted = stub.teams_token if team_call and stub.teams_token else stub.token
                if self.headers.get("Authorization") != f"Bearer {wanted}":
                    return self.send(401 if not team_call else 404, {"message": "Bad credentials"})
                body = json.loads(raw) if raw else {}
                if m := re.fullmatch(rf"/repos/{repo}/issues/(\d+)/comments", path):
                    pr = int(m.group(1))
                    if self.command == "GET":
                        return self.page(stub.comments.get(pr, []), query, path)
                    if self.command == "POST":
                        return self.send(201, stub.add_comment(pr, body["body"], "github-actions[bot]"))
                if (m := re.fullmatch(rf"/repos/{repo}/issues/comments/(\d+)", path)) and self.command == "PATCH":
                    for c in (c for cs in stub.comments.values() for c in cs):
                        if c["id"] == int(m.group(1)):
                            c["body"] = body["body"]
                            return self.send(200, c)
                    return self.send(404, {"message": "Not Found"})
                if path == f"/repos/{stub.repo}/pulls" and self.command == "POST":
                    missing = [k for k in ("title", "head", "base") if not body.get(k)]
                    if missing:
                        return self.send(422, {"message": f"Validation Failed: {', '.join(missing)} missing"})
                    number = len(stub.pulls) + 1
                    pull = {
                        "number": number,
                        "html_url": f"https://github.com/{stub.repo}/pull/{number}",
                        "title": body["title"],
                        "body": body.get("body", ""),
                        "head": {"ref": body["head"]},
                        "base": {"ref": body["base"]},
                    }
                    stub.pulls.append(pull)
                    return self.send(201, pull)
                if (m := re.fullmatch(rf"/repos/{repo}/pulls/(\d+)/reviews", path)) and self.command == "GET":
                    return self.page(stub.reviews.get(int(m.group(1)), []), query, path)
                if m := re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)(/memberships/([^/]+))?", path):
                    key = (m.group(1), m.group(2))
                    if not stub.teams_readable or key not in stub.teams:
                        return self.send(404, {"message": "Not Found"})
                    if m.group(4) is None:
                        return self.send(200, {"slug": key[1]})
                    if m.group(4) in stub.teams[key]:
                        return self.send(200, {"state": "active", "role": "member"})
                    return self.send(404, {"message": "Not Found"})
                return self.send(404, {"message": "Not Found"})

            do_GET = do_POST = do_PATCH = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
