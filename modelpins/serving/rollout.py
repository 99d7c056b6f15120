"""Push instead of pull: apply rendered objects, wait for the Deployments, roll back on failure.

Before applying, the live version of every object is read. When a Deployment reports
ProgressDeadlineExceeded, or is not ready within the timeout, or an apply fails, every
object applied so far goes back to what was live before (objects that did not exist are
deleted; a Namespace is never deleted). After a successful rollout, objects labelled
`app.kubernetes.io/managed-by: modelpins` in the namespaces rolled out that are no longer
rendered (a deployment removed, or renamed by a strategy change) are pruned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelpins.errors import OperationFailed
from modelpins.serving.cluster import describe

KEEP_META = ("name", "namespace", "labels", "annotations")


PRUNABLE = ("HTTPRoute", "NetworkPolicy", "PodDisruptionBudget", "Service", "Deployment")


class Api(Protocol):
    def get(self, obj: dict[str, Any]) -> dict[str, Any] | None: ...
    def apply(self, obj: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, obj: dict[str, Any]) -> None: ...
    def managed(self, kind: str, namespace: str) -> list[dict[str, Any]]: ...


class RolloutFailed(OperationFailed):
    """A Deployment did not become ready; the previous objects were restored."""


@dataclass
class Outcome:
    applied: list[str] = field(default_factory=list)
    ready: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)


def deployment_state(obj: dict[str, Any]) -> tuple[str, str]:
    """('ready' | 'progressing' | 'failed', detail) from a Deployment's status."""
    spec, status = obj.get("spec", {}), obj.get("status") or {}
    want = int(spec.get("replicas", 1))
    generation = obj.get("metadata", {}).get("generation")
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return "failed", cond.get("message") or "progress deadline exceeded"
    if generation is not None and int(status.get("observedGeneration", 0)) < int(generation):
        return "progressing", "the controller has not seen this version yet"
    counts = {k: int(status.get(k, 0)) for k in ("updatedReplicas", "readyReplicas", "availableReplicas")}
    total = int(status.get("replicas", 0))
    if all(v >= want for v in counts.values()) and total <= want:
        return "ready", f"{counts['availableReplicas']}/{want} available"
    return "progressing", f"{counts['updatedReplicas']}/{want} updated, {counts['availableReplicas']}/{want} available"


def restorable(live: dict[str, Any]) -> dict[str, Any]:
    """The applyable part of a live object: identity, labels, annotations and spec."""
    meta = {k: v for k, v in live.get("metadata", {}).items() if k in KEEP_META}
    meta.get("annotations", {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    out = {"apiVersion": live["apiVersion"], "kind": live["kind"], "metadata": meta}
    if "spec" in live:
        out["spec"] = live["spec"]
    return out


def rollout(
    api: Api,
    objects: list[dict[str, Any]],
    *,
    wait: bool,
    timeout: float,
    prune_in: tuple[str, ...] = (),
    poll: float = 2.0,
    report: Callable[[str], None] = lambda _: None,
) -> Outcome:
    """Apply `objects`; with `wait`, roll back unless every Deployment becomes ready; then prune `prune_in`."""
    previous = [(obj, api.get(obj)) for obj in objects]
    outcome = Outcome()
    try:
        for obj in objects:
            api.apply(obj)
            outcome.applied.append(describe(obj))
            report(f"applied  {describe(obj)}")
        if wait:
            deployments = [o for o in objects if o["kind"] == "Deployment"]
            outcome.ready = wait_ready(api, deployments, timeout, poll, report)
    except OperationFailed as exc:
        restored = rollback(api, previous[: len(outcome.applied)], report)
        raise RolloutFailed(
            f"rollout failed: {exc}\nRolled back {len(restored)} objects to the manifests live before this rollout:\n"
            + "\n".join(f"  {line}" for line in restored)
        ) from None
    outcome.pruned = prune(api, objects, prune_in, report)
    return outcome


def prune(
    api: Api, objects: list[dict[str, Any]], namespaces: tuple[str, ...], report: Callable[[str], None]
) -> list[str]:
    """Delete modelpins-managed objects in `namespaces` that `objects` no longer contain."""
    wanted = {describe(o) for o in objects}
    pruned = []
    for namespace in namespaces:
        for kind in PRUNABLE:
            for live in api.managed(kind, namespace):
                if describe(live) not in wanted:
                    api.delete(live)
                    pruned.append(describe(live))
                    report(f"pruned   {describe(live)} (no longer rendered)")
    return pruned


def wait_ready(
    api: Api, deployments: list[dict[str, Any]], timeout: float, poll: float, report: Callable[[str], None]
) -> list[str]:
    deadline = time.monotonic() + timeout
    pending = {describe(d): d for d in deployments}
    ready: list[str] = []
    while True:
        for name, obj in list(pending.items()):
            live = api.get(obj)
            state, detail = deployment_state(live) if live else ("progressing", "not found yet")
            if state == "failed":
                raise OperationFailed(f"{name} failed: {detail}")
            if state == "ready":
                report(f"ready    {name} ({detail})")
                ready.append(name)
                del pending[name]
        if not pending:
            return ready
        if time.monotonic() >= deadline:
            details = []
            for name, obj in pending.items():
                live = api.get(obj)
                details.append(f"{name}: {deployment_state(live)[1] if live else 'not found'}")
            raise OperationFailed(f"not ready after {timeout:g}s: " + "; ".join(details))
        time.sleep(poll)


def rollback(
    api: Api, previous: list[tuple[dict[str, Any], dict[str, Any] | None]], report: Callable[[str], None]
) -> list[str]:
    restored = []
    for obj, live in reversed(previous):
        if live is not None:
            api.apply(restorable(live))
            line = f"restored {describe(obj)}"
        elif obj["kind"] == "Namespace":
            continue
        else:
            api.delete(obj)
            line = f"deleted  {describe(obj)} (it did not exist before)"
        report(line)
        restored.append(line)
    return restored
