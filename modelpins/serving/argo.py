"""A canary handed to Argo Rollouts (`engine: argo-rollouts`): the Rollout, its AnalysisTemplate, the route. Pure.

The modelpins engine renders two Deployments and a static weight that `canary advance` edits in git. This
engine turns the same objects into what the Argo Rollouts controller runs instead:

- one `Rollout` (argoproj.io/v1alpha1) with the candidate track's pod template, whose canary steps are the
  pins file's `steps:` (`setWeight`, then `pause: {duration: min_time}`);
- an `AnalysisTemplate` with the Prometheus provider, one metric per named query of `analysis:` (the
  successCondition from threshold and direction), run in the background from the first step on;
- the track Services as the Rollout's stable and canary Services, and the HTTPRoute that the Gateway API
  traffic-router plugin (`argoproj-labs/gatewayAPI`) re-weights.

Prometheus's address is never in the pins file: the AnalysisTemplate reads it from the Secret
`modelpins-prometheus` (key `address`) that the operator creates in the namespace.
"""

from __future__ import annotations

import copy
from typing import Any

from modelpins import promql, tags
from modelpins.pins import Deployment, Strategy

ENGINE = "argo-rollouts"
API = "argoproj.io/v1alpha1"
PLUGIN = "argoproj-labs/gatewayAPI"
# the name of a Secret the operator creates (key `address`, e.g. http://prometheus:9090), not a secret itself
PROMETHEUS_SECRET = "modelpins-prometheus"  # noqa: S105
CANARY_HASH = "canary-hash"  # the canary ReplicaSet's pod-template-hash, which the controller passes
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


def selector(namespace: str, dep: Deployment) -> str:
    """The canary pods' series: Prometheus's Kubernetes discovery names the controller's pod-template-hash label."""
    return (
        f'namespace="{namespace}",app_kubernetes_io_name="{dep.name}",'
        f'rollouts_pod_template_hash="{{{{args.{CANARY_HASH}}}}}"'
    )


def condition(direction: str, threshold: float) -> str:
    return f"result[0] {'<' if direction == 'below' else '>'} {threshold!r}"


def analysis_template(dep: Deployment, namespace: str, lbls: dict[str, str]) -> dict[str, Any]:
    """The AnalysisTemplate of the deployment's `analysis:`: each named query, filled for the canary's pods."""
    a = dep.strategy.analysis
    assert a is not None  # noqa: S101 - callers render a template only for a canary with an analysis
    sel = selector(namespace, dep)
    metrics: list[dict[str, Any]] = [
        {
            "name": "min-requests",
            "interval": a.window,
            "failureLimit": 0,
            "successCondition": f"result[0] >= {a.min_requests}",
            "provider": {
                "prometheus": {
                    "address": f"{{{{args.{PROMETHEUS_ADDRESS}}}}}",
                    "query": promql.fill(promql.REQUESTS, sel, a.window),
                }
            },
        }
    ]
    for q in a.queries:
        metrics.append(
            {
                "name": q.name,
                "interval": a.window,
                "failureLimit": 0,
                "successCondition": condition(q.direction, q.threshold),
                "provider": {
                    "prometheus": {
                        "address": f"{{{{args.{PROMETHEUS_ADDRESS}}}}}",
                        "query": promql.fill(q.query, sel, a.window),
                    }
                },
            }
        )
    return {
        "apiVersion": API,
        "kind": "AnalysisTemplate",
        "metadata": {"name": dep.name, "labels": lbls},
        "spec": {
            "args": [
                {"name": CANARY_HASH},
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
        canary["analysis"] = {
            "templates": [{"templateName": dep.name}],
            "startingStep": 1,
            "args": [{"name": CANARY_HASH, "valueFrom": {"podTemplateHashValue": "Latest"}}],
        }
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
