"""A canary handed to Argo Rollouts (`engine: argo-rollouts`): its step read from the Rollout's status, as a Decision.

The Argo Rollouts controller moves the weight and runs the analysis; modelpins only reads where it stands through
the Kubernetes API. When the Rollout completed (Healthy, its stable ReplicaSet is the current pod template) the
decision is PROMOTE, so `canary advance` proposes the alias move as for the modelpins engine. An aborted or
degraded Rollout holds and needs a person (the controller already sent the traffic back to stable). Anything else
holds: the controller is still stepping.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from modelpins.canary.decide import ABORTED, HOLD, PROMOTE, Decision, Evidence
from modelpins.pins import Deployment

ENGINE = "argo-rollouts"


def uses_argo(dep: Deployment) -> bool:
    return dep.strategy.type == "canary" and dep.strategy.engine == ENGINE


def probe(namespace: str, name: str) -> dict[str, Any]:
    """The object Cluster.get needs to read the Rollout."""
    return {"kind": "Rollout", "metadata": {"namespace": namespace, "name": name}}


def _weight(status: dict[str, Any]) -> int:
    weights = (status.get("canary") or {}).get("weights") or {}
    return int((weights.get("canary") or {}).get("weight") or 0)


def completed(rollout: dict[str, Any]) -> bool:
    """Healthy, the controller saw the latest spec, and the stable ReplicaSet runs the current pod template."""
    status = rollout.get("status") or {}
    generation = str((rollout.get("metadata") or {}).get("generation", ""))
    return (
        status.get("phase") == "Healthy"
        and str(status.get("observedGeneration", "")) == generation
        and bool(status.get("currentPodHash"))
        and status.get("stableRS") == status.get("currentPodHash")
    )


def judge(dep: Deployment, namespace: str, rollout: dict[str, Any] | None) -> Decision:
    """The decision for a canary whose Rollout is `rollout` (None: not in the cluster)."""
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    evidence = Evidence(window="", at=at)
    where = f"Rollout {namespace}/{dep.name}"
    if rollout is None:
        why = f"no evidence: the {where} is not in the cluster; render and apply it ('modelpins rollout')"
        return Decision(dep.name, HOLD, why, 0, 0, None, evidence)
    status = rollout.get("status") or {}
    phase = status.get("phase") or "Unknown"
    message = status.get("message") or ""
    weight = _weight(status)
    if completed(rollout):
        why = f"the {where} completed (Healthy on the candidate's pod template): propose the alias move"
        return Decision(dep.name, PROMOTE, why, 100, 100, None, evidence)
    if status.get("abort") or phase == "Degraded":
        why = f"{ABORTED} the {where} is {phase}" + (f" ({message})" if message else "") + "; traffic is on stable"
        return Decision(dep.name, HOLD, why, weight, weight, None, evidence, (why,))
    steps = len((rollout.get("spec") or {}).get("strategy", {}).get("canary", {}).get("steps") or [])
    index = status.get("currentStepIndex")
    step = f" at step {index}/{steps}" if index is not None else ""
    why = f"the {where} is {phase}{step}" + (f" ({message})" if message else "") + "; Argo Rollouts moves the weight"
    return Decision(dep.name, HOLD, why, weight, weight, None, evidence)
