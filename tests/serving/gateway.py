"""Gateway API HTTPRoute precedence, as the specification states it, to read rendered routes as a Gateway would.

No Gateway controller runs here; this follows the HTTPRoute API reference (gateway.networking.k8s.io/v1):

- a route applies to a request when one of its `hostnames` matches the Host (none listed: any host;
  `*.d` matches any name below `d`);
- among routes whose hostnames intersect, the one with the longest matching non-wildcard hostname
  wins, then the longest matching hostname;
- then, across every rule match of the remaining routes: an exact path match, then the longest
  path prefix, then a method match, then the most header matches, then the most query matches;
- still tied: the oldest route (creation timestamp), then `{namespace}/{name}` alphabetically.
  Objects applied together have no meaningful order, so a tie between two routes is recorded.

A rule without `matches` matches `PathPrefix /`. Path prefixes match whole segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Choice:
    route: dict[str, Any]
    rule: dict[str, Any]
    tied_with: tuple[str, ...]  # names of other routes that tied with the chosen one


def host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def prefix_matches(prefix: str, path: str) -> bool:
    want = [p for p in prefix.split("/") if p]
    have = [p for p in path.split("/") if p]
    return have[: len(want)] == want


def _host_rank(route: dict[str, Any], host: str) -> tuple[int, int] | None:
    names = route["spec"].get("hostnames") or []
    if not names:
        return (0, 0)
    matching = [n for n in names if host_matches(n, host)]
    if not matching:
        return None
    exact = max((len(n) for n in matching if not n.startswith("*.")), default=0)
    return (exact, max(len(n) for n in matching))


def _match_rank(match: dict[str, Any], method: str, path: str) -> tuple[int, int, int, int, int] | None:
    p = match.get("path") or {"type": "PathPrefix", "value": "/"}
    if p["type"] == "Exact":
        if p["value"] != path:
            return None
        exact, length = 1, len(p["value"])
    elif p["type"] == "PathPrefix":
        if not prefix_matches(p["value"], path):
            return None
        exact, length = 0, len(p["value"].rstrip("/") or "/")
    else:
        raise AssertionError(f"path match type {p['type']} is not modelled")
    if match.get("method") and match["method"] != method:
        return None
    if match.get("headers") or match.get("queryParams"):
        raise AssertionError("header and query matches are not rendered, so not modelled")
    return (exact, length, 1 if match.get("method") else 0, 0, 0)


def choose(routes: list[dict[str, Any]], host: str, path: str, method: str = "POST") -> Choice | None:
    """The route and rule a Gateway sends (host, path) to, among HTTPRoutes attached to one Gateway."""
    by_host = [(r, rank) for r in routes if (rank := _host_rank(r, host)) is not None]
    if not by_host:
        return None
    best_host = max(rank for _, rank in by_host)
    candidates = []
    for route, rank in by_host:
        if rank != best_host:
            continue
        for rule in route["spec"]["rules"]:
            for match in rule.get("matches") or [{}]:
                m = _match_rank(match, method, path)
                if m is not None:
                    candidates.append((m, route, rule))
    if not candidates:
        return None
    best = max(m for m, _, _ in candidates)
    top = [(route, rule) for m, route, rule in candidates if m == best]

    def ident(route: dict[str, Any]) -> str:
        return f"{route['metadata'].get('namespace', '')}/{route['metadata']['name']}"

    route, rule = min(top, key=lambda rr: ident(rr[0]))  # equal creation times: alphabetical
    others = tuple(sorted({ident(r) for r, _ in top} - {ident(route)}))
    return Choice(route, rule, others)


def shares(rule: dict[str, Any]) -> dict[tuple[str, int], float]:
    """{(Service, port): fraction of the rule's requests} from backendRefs weights (default 1)."""
    refs = rule.get("backendRefs") or []
    total = sum(ref.get("weight", 1) for ref in refs)
    return {(ref["name"], ref["port"]): (ref.get("weight", 1) / total if total else 0.0) for ref in refs}


def mirrors(rule: dict[str, Any]) -> list[tuple[str, int]]:
    return [
        (f["requestMirror"]["backendRef"]["name"], f["requestMirror"]["backendRef"]["port"])
        for f in rule.get("filters") or []
        if f["type"] == "RequestMirror"
    ]


def rewritten(rule: dict[str, Any], path: str) -> str:
    """The path the backend sees after the rule's URLRewrite ReplacePrefixMatch filter (if any)."""
    for f in rule.get("filters") or []:
        if f["type"] == "URLRewrite" and f["urlRewrite"].get("path", {}).get("type") == "ReplacePrefixMatch":
            prefix = next(m["path"]["value"] for m in rule["matches"] if m.get("path"))
            rest = [p for p in path.split("/") if p][len([p for p in prefix.split("/") if p]) :]
            return "/" + "/".join(rest)
    return path
