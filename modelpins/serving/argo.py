"""A canary handed to Argo Rollouts (`engine: argo-rollouts`): the Rollout, its AnalysisTemplate, the route. Pure.

The modelpins engine renders two Deployments and a static weight that `canary advance` edits in git. This
engine turns the same objects into what the Argo Rollouts controller runs instead:

- one `Rollout` (argoproj.io/v1alpha1) with the candidate track's pod template, whose canary steps are the
  pins file's `steps:` (`setWeight`, then `pause: {duration: min_time}`);
- an `AnalysisTemplate` with the Prometheus provider, one metric per named query of `analysis:` (the
  successCondition from threshold and direction, met where `canary advance` passes the candidate: on the
  threshold itself too), run in the background from the first step on; a query with `tolerance:` adds a
  metric `<name>-vs-stable` that compares the canary's pods with the stable ones over the same window, as
  modelpins.canary.decide does: `candidate - (1 + tolerance) * stable <= 0` (`below`) or
  `candidate - (1 - tolerance) * stable >= 0` (`above`), computed by Prometheus in one query; when either
  side has no data the measurement is inconclusive, which pauses the Rollout (decide holds);
- the track Services as the Rollout's stable and canary Services, and the HTTPRoute that the Gateway API
  traffic-router plugin (`argoproj-labs/gatewayAPI`) re-weights.

Prometheus's address is never in the pins file: the AnalysisTemplate reads it from the Secret
`modelpins-prometheus` (key `address`) that the operator creates in the namespace.
"""

from __future__ import annotations

import copy
from typing import Any

from modelpins import promql, tags
from modelpins.pins import CanaryQuery, Deployment, Strategy

ENGINE = "argo-rollouts"
API = "argoproj.io/v1alpha1"
PLUGIN = "argoproj-labs/gatewayAPI"
# the name of a Secret the operator creates (key `address`, e.g. http://prometheus:9090), not a secret itself
PROMETHEUS_SECRET = "modelpins-prometheus"  # noqa: S105
CANARY_HASH = "canary-hash"  # the canary ReplicaSet's pod-template-hash, which the controller passes
STABLE_HASH = "stable-hash"  # the stable ReplicaSet's: its traffic, and the queries with a tolerance
PROMETHEUS_ADDRESS = "prometheus-address"


def uses_argo(dep: Deployment) -> bool:
    return dep.strategy.type == "canary" and dep.strategy.engine == ENGINE


def steps(s: Strategy) -> list[dict[str, Any]]:
    """setWeight + pause per step; the pause lasts the step's min_time (no min_time: an indefinite pause, which
    `kubectl argo rollouts promote` ends)."""
    times = s.min_times or (0.0,) * len(s.steps)
    out: list[dict[str, Any]] = []
    for weight, secs in zip(s.steps, times, strict=True):
        out.append({"setWeight": weight})
        if weight < 100:
            out.append({"pause": {"duration": f"{int(secs)}s"} if secs else {}})
    return out


def selector(namespace: str, dep: Deployment, pods: str = CANARY_HASH) -> str:
    """The canary pods' series (the stable ones' with `pods=STABLE_HASH`): Prometheus's Kubernetes discovery
    names the controller's pod-template-hash label."""
    return (
        f'namespace="{namespace}",app_kubernetes_io_name="{dep.name}",rollouts_pod_template_hash="{{{{args.{pods}}}}}"'
    )


def condition(direction: str, threshold: float) -> str:
    """Passes where decide.Reading does: a `below` value fails only above the threshold, `above` only below."""
    return f"result[0] {'<=' if direction == 'below' else '>='} {threshold!r}"


def tolerance_metric(q: CanaryQuery, window: str, namespace: str, dep: Deployment) -> dict[str, Any]:
    """The candidate against the stable track within `q.tolerance`, as decide.Reading.failure compares them."""
    assert q.tolerance is not None  # noqa: S101 - only for a query with a tolerance
    below = q.direction == "below"
    factor = 1 + q.tolerance if below else 1 - q.tolerance
    candidate = promql.fill(q.query, selector(namespace, dep), window)
    stable = promql.fill(q.query, selector(namespace, dep, STABLE_HASH), window)
    passes, fails = ("<=", ">") if below else (">=", "<")
    return metric(
        f"{q.name}-vs-stable",
        window,
        f"vector(scalar({candidate}) - {factor!r} * scalar({stable}))",
        f"result[0] {passes} 0",
        failure=f"result[0] {fails} 0",
    )


def metric(name: str, window: str, query: str, success: str, failure: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "interval": window, "failureLimit": 0, "successCondition": success}
    if failure:
        out["failureCondition"] = failure
    out["provider"] = {"prometheus": {"address": f"{{{{args.{PROMETHEUS_ADDRESS}}}}}", "query": query}}
    return out


def analysis_template(dep: Deployment, namespace: str, lbls: dict[str, str]) -> dict[str, Any]:
    """The AnalysisTemplate of the deployment's `analysis:`: each named query, filled for the canary's pods."""
    a = dep.strategy.analysis
    assert a is not None  # noqa: S101 - callers render a template only for a canary with an analysis
    sel = selector(namespace, dep)
    enough = f"result[0] >= {a.min_requests}"
    stable = promql.fill(promql.REQUESTS, selector(namespace, dep, STABLE_HASH), a.window)
    metrics = [  # each track needs the traffic, as canary advance (decide._blocked) counts both
        metric("min-requests", a.window, promql.fill(promql.REQUESTS, sel, a.window), enough),
        metric("min-requests-stable", a.window, stable, enough),
    ]
    for q in a.queries:
        metrics.append(
            metric(q.name, a.window, promql.fill(q.query, sel, a.window), condition(q.direction, q.threshold))
        )
        if q.tolerance is not None:
            metrics.append(tolerance_metric(q, a.window, namespace, dep))
    args: list[dict[str, Any]] = [{"name": CANARY_HASH}, {"name": STABLE_HASH}]
    return {
        "apiVersion": API,
        "kind": "AnalysisTemplate",
        "metadata": {"name": dep.name, "labels": lbls},
        "spec": {
            "args": [
                *args,
                {
                    "name": PROMETHEUS_ADDRESS,
                    "valueFrom": {"secretKeyRef": {"name": PROMETHEUS_SECRET, "key": "address"}},
                },
            ],
            "metrics": metrics,
        },
    }


def rollout(dep: Deployment, candidate: dict[str, Any], services: tuple[str, str], namespace: str) -> dict[str, Any]:
    """The Rollout: the candidate Deployment's pod template, the pins file's steps, the plugin's route."""
    lbls = {k: v for k, v in candidate["metadata"]["labels"].items() if k != tags.TRACK}
    lbls[tags.INSTANCE] = dep.name
    template = copy.deepcopy(candidate["spec"]["template"])
    template["metadata"]["labels"] = dict(lbls)
    canary: dict[str, Any] = {
        "stableService": services[0],
        "canaryService": services[1],
        "trafficRouting": {"plugins": {PLUGIN: {"httpRoute": dep.name, "namespace": namespace}}},
        "steps": steps(dep.strategy),
    }
    if dep.strategy.analysis:
        hashes = [
            {"name": CANARY_HASH, "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": STABLE_HASH, "valueFrom": {"podTemplateHashValue": "Stable"}},
        ]
        canary["analysis"] = {"templates": [{"templateName": dep.name}], "startingStep": 1, "args": hashes}
    spec = candidate["spec"]
    return {
        "apiVersion": API,
        "kind": "Rollout",
        "metadata": {"name": dep.name, "labels": lbls, "annotations": candidate["metadata"]["annotations"]},
        "spec": {
            "replicas": dep.replicas,
            "revisionHistoryLimit": spec["revisionHistoryLimit"],
            "progressDeadlineSeconds": spec["progressDeadlineSeconds"],
            "selector": {"matchLabels": {tags.NAME: dep.name, tags.INSTANCE: dep.name}},
            "template": template,
            "strategy": {"canary": canary},
        },
    }


def objects(dep: Deployment, rendered: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """The modelpins engine's objects of a canary, turned into the Argo Rollouts engine's: the Rollout (and its
    AnalysisTemplate) replace the two Deployments and their budgets; every Service selects the Rollout's pods
    (the controller adds the pod-template-hash to the stable and canary Services); the route starts at 100/0."""
    deployments = [o for o in rendered if o["kind"] == "Deployment"]
    stable, candidate = deployments[0], deployments[-1]
    services = (stable["metadata"]["name"], candidate["metadata"]["name"])
    pods = {tags.NAME: dep.name, tags.INSTANCE: dep.name}
    out: list[dict[str, Any]] = [rollout(dep, candidate, services, namespace)]
    if dep.strategy.analysis:
        out.append(analysis_template(dep, namespace, rendered[-1]["metadata"]["labels"]))
    for obj in rendered:
        kind = obj["kind"]
        if kind in ("Deployment", "PodDisruptionBudget"):
            continue
        if kind == "Service":
            obj["spec"]["selector"] = dict(pods)
        elif kind == "HTTPRoute":
            for rule in obj["spec"]["rules"]:
                for ref, weight in zip(rule["backendRefs"], (100, 0), strict=True):
                    ref["weight"] = weight
            obj["metadata"]["annotations"][tags.ENGINE] = ENGINE
        out.append(obj)
    if dep.replicas > 1:  # with 1 pod, a budget can only block drains
        out.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": dep.name, "labels": rendered[-1]["metadata"]["labels"]},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(pods)}},
            }
        )
    return out
