"""Each track's numbers for a canary's analysis, read through Prometheus over the same window.

A track's series are named by `$selector`: the labels Prometheus's Kubernetes discovery gives the
pods modelpins renders (`labelmap` of the pod labels): namespace, `app_kubernetes_io_name` (the
deployment) and `modelpins_io_track` (stable or candidate).
"""

from __future__ import annotations

from datetime import datetime, timezone

from modelpins import promql
from modelpins.canary.decide import Evidence, Reading
from modelpins.canary.prometheus import Prometheus, Unreachable
from modelpins.errors import InvalidPins, Problem
from modelpins.pins import Analysis, Deployment, PinsFile

TRACKS = ("candidate", "stable")


def selector(namespace: str, deployment: str, track: str) -> str:
    return f'namespace="{namespace}",app_kubernetes_io_name="{deployment}",modelpins_io_track="{track}"'


def check_queries(prom: Prometheus, p: PinsFile, dep: Deployment) -> None:
    """Prometheus's own parser on every query of the deployment's analysis; InvalidPins (file:line) if it refuses."""
    analysis = dep.strategy.analysis
    if analysis is None:
        return
    sel = selector(p.environments[dep.environment].namespace, dep.name, "candidate")
    bad = []
    for q in analysis.queries:
        complaint = prom.parse_problem(promql.fill(q.query, sel, analysis.window))
        if complaint:
            bad.append(Problem(p.path, q.line, f"PromQL of '{q.name}': {complaint}", "fix the query"))
    if bad:
        raise InvalidPins(bad)


def measure(prom: Prometheus | None, p: PinsFile, dep: Deployment, analysis: Analysis, why: str = "") -> Evidence:
    """Requests and every query on both tracks; an Evidence saying why when Prometheus cannot be asked."""
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if prom is None:
        return Evidence(analysis.window, at, unreachable=why)
    ns = p.environments[dep.environment].namespace
    sel = {t: selector(ns, dep.name, t) for t in TRACKS}
    try:
        requests = {t: prom.value(promql.fill(promql.REQUESTS, sel[t], analysis.window)) for t in TRACKS}
        readings = tuple(
            Reading(
                q.name,
                q.query,
                prom.value(promql.fill(q.query, sel["candidate"], analysis.window)),
                prom.value(promql.fill(q.query, sel["stable"], analysis.window)),
                q.threshold,
                q.direction,
                q.tolerance,
                q.line,
            )
            for q in analysis.queries
        )
    except Unreachable as exc:
        return Evidence(analysis.window, at, unreachable=str(exc))
    return Evidence(analysis.window, at, requests["candidate"], requests["stable"], readings)
