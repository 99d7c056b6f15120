"""The part of GitHub's official OpenAPI description that modelpins uses, vendored as github_openapi.json.

The source is the npm package @octokit/openapi (GitHub's description from github/rest-api-description,
`generated/api.github.com.json`), pinned below by exact version and tarball integrity. The excerpt
holds the path items in PATHS (every method of each, as GitHub describes them) and every component
they reference, unchanged. It describes REST API version 2022-11-28, the one modelpins asks for in
X-GitHub-Api-Version (later versions' changes appear per operation as x-github-breaking-changes).
The GitHub stand-in (github_stub.py) validates each request and response against it.

    python -m tests.helpers.github_openapi          # rewrite github_openapi.json from the pinned package
    python -m tests.helpers.github_openapi --check  # fail if github_openapi.json is not what it gives

Both fetch the package with `npm pack` (the npm registry) and check its sha512 before reading it.
To follow a new release: change VERSION and INTEGRITY (`npm view @octokit/openapi@X dist.integrity`),
rewrite, run the tests. To let modelpins call another endpoint: add its path to PATHS and rewrite.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

PACKAGE = "@octokit/openapi"
VERSION = "23.0.2"
INTEGRITY = "sha512-pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg=="
MEMBER = "package/generated/api.github.com.json"
EXCERPT = Path(__file__).with_suffix(".json")
PATHS = (
    "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    "/repos/{owner}/{repo}/issues/comments/{comment_id}",
    "/repos/{owner}/{repo}/pulls",
    "/repos/{owner}/{repo}/pulls/{pull_number}",
    "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
    "/repos/{owner}/{repo}/statuses/{sha}",
    "/orgs/{org}/teams/{team_slug}",
    "/orgs/{org}/teams/{team_slug}/memberships/{username}",
)


def fetch() -> dict[str, Any]:
    """The full description from the pinned package, after checking the tarball's integrity."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", "--silent", f"{PACKAGE}@{VERSION}", "--pack-destination", tmp],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(tmp).glob("*.tgz")
        algo, _, want = INTEGRITY.partition("-")
        got = base64.b64encode(hashlib.new(algo, tarball.read_bytes()).digest()).decode()
        if got != want:
            raise SystemExit(f"ERROR - {tarball.name}: {algo} is {got}, the pin says {want}; not reading it")
        with tarfile.open(tarball) as tar:
            member = tar.extractfile(MEMBER)
            if member is None:
                raise SystemExit(f"ERROR - {PACKAGE}@{VERSION} has no {MEMBER}")
            data: dict[str, Any] = json.load(member)
            return data


def excerpt(full: dict[str, Any]) -> dict[str, Any]:
    """PATHS and the components they reference, transitively; nothing else changed."""
    out: dict[str, Any] = {k: full[k] for k in ("openapi", "info", "servers")}
    out["paths"] = {p: full["paths"][p] for p in PATHS}
    components: dict[str, dict[str, Any]] = {}
    todo = [out["paths"]]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            todo.extend(node)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/"):
                kind, name = ref.removeprefix("#/components/").split("/", 1)
                if name not in components.setdefault(kind, {}):
                    components[kind][name] = full["components"][kind][name]
                    todo.append(components[kind][name])
            todo.extend(v for k, v in node.items() if k != "$ref")
    out["components"] = {k: dict(sorted(v.items())) for k, v in sorted(components.items())}
    return out


def render(full: dict[str, Any]) -> str:
    return json.dumps(excerpt(full), indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render(fetch())
    if "--check" in argv:
        if not EXCERPT.exists() or EXCERPT.read_text() != text:
            print(
                f"ERROR - tests/helpers/{EXCERPT.name} is not the excerpt of {PACKAGE}@{VERSION}: "
                "run 'python -m tests.helpers.github_openapi' and commit it"
            )
            return 1
        print(f"tests/helpers/{EXCERPT.name} is the excerpt of {PACKAGE}@{VERSION}")
        return 0
    EXCERPT.write_text(text)
    print(f"wrote tests/helpers/{EXCERPT.name} from {PACKAGE}@{VERSION} ({len(text)} bytes)")
    return 0


# --- checking requests and responses against the excerpt --------------------------------------

API_HOST = "https://api.github.com"  # the description's server; the stand-in's own address is not in it
# GitHub answers 401 "Bad credentials" on every operation, but the description lists it for none:
# such answers are checked against GitHub's error schema instead.
UNDESCRIBED_ERRORS = {401: "basic-error"}


@functools.cache
def description() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXCERPT.read_text())
    return data


@functools.cache
def _openapi() -> Any:
    from openapi_core import OpenAPI

    return OpenAPI.from_dict(description())  # checks the excerpt itself with openapi-spec-validator


def _request(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Any:
    from openapi_core.testing import MockRequest

    return MockRequest(
        API_HOST,
        method.lower(),
        path,
        args=parse_qsl(query, keep_blank_values=True),  # type: ignore[arg-type]  # a list: repeated keys stay
        headers=dict(headers),
        data=body or None,
        content_type=headers.get("Content-Type", "application/json").split(";")[0],
    )


def request_errors(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> list[str]:
    """What GitHub's description says is wrong with this request (no such operation, a bad query or body)."""
    from openapi_core.templating.paths.exceptions import PathNotFound

    try:
        _openapi().validate_request(_request(method, path, query, headers, body))
    except PathNotFound:
        return [f"{method} {path}: no path of {EXCERPT.name} matches (if GitHub has it, add it to PATHS and rewrite)"]
    except Exception as exc:
        return [f"{method} {path}: {line}" for line in _explain(exc)]
    return []


def response_errors(
    method: str, path: str, query: str, headers: Mapping[str, str], status: int, body: bytes, resp_headers: Any
) -> list[str]:
    """What GitHub's description says is wrong with the answer `status`/`body` to this request."""
    from openapi_core.testing import MockResponse
    from openapi_schema_validator import OAS30Validator

    where = f"{method} {path} -> {status}"
    if status in UNDESCRIBED_ERRORS:
        schema = description()["components"]["schemas"][UNDESCRIBED_ERRORS[status]]
        errors = OAS30Validator(schema).iter_errors(json.loads(body or b"null"))
        return [f"{where}: {e.message} at {_at(e.absolute_path)}" for e in errors]
    resp = MockResponse(body, status_code=status, headers=dict(resp_headers), content_type="application/json")
    try:
        _openapi().validate_response(_request(method, path, query, headers, b""), resp)
    except Exception as exc:
        return [f"{where}: {line}" for line in _explain(exc)]
    return []


def _explain(exc: BaseException) -> list[str]:
    """The validator's findings, one per line, each with the JSON path it is about."""
    cause: BaseException | None = exc
    while cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            return [f"{e.message} at {_at(e.absolute_path)}" for e in schema_errors]
        cause = cause.__cause__
    return [f"{type(exc).__name__}: {exc}" + (f" ({exc.__cause__})" if exc.__cause__ else "")]


def _at(path: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
