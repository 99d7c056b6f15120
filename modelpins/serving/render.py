"""Kubernetes manifests for every deployment in the pins file: pure and deterministic.

PinsFile + image lock -> {relative path: YAML bytes}, laid out as a kustomize base per
deployment (`base/<deployment>/`) and one overlay per environment (`<env>/`, which sets
the namespace). The same input always gives the same bytes: CI re-renders and fails on
`git diff manifests/`.

Tracks: `stable` serves `serve`, `candidate` serves `strategy.candidate`.

| strategy   | objects                                                                         |
| ---------- | ------------------------------------------------------------------------------- |
| rolling    | Deployment + Service `<d>`                                                      |
| blue-green | Deployments `<d>-blue` (stable) and `<d>-green` (candidate), a Service per      |
|            | colour for previews, Service `<d>` selecting `strategy.active`                  |
| canary, ab | Deployments/Services `<d>-stable` and `<d>-candidate`; HTTPRoute weights        |
|            | 100-w / w                                                                       |
| shadow     | as canary; HTTPRoute sends all traffic to stable and mirrors it to candidate    |
|            | (the Gateway discards the candidate's responses)                                |

Every track gets a PodDisruptionBudget; every deployment in an environment with a
`gateway` gets an HTTPRoute. Service `<d>` is always the in-cluster entry point.
"""

from __future__ import annotations

from typing import Any

from modelpins.layout import Locked
from modelpins.pins import PinsFile
from modelpins.progress import Step, noop
from modelpins.serving.checks import check
from modelpins.serving.emit import dump
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.objects import environment_objects, namespace, objects

KUSTOMIZE = "kustomize.config.k8s.io/v1beta1"


def file_name(obj: dict[str, Any]) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def render(
    pins: PinsFile,
    lock: ImageLock,
    dockerfile: bytes,
    locked: Locked | None = None,
    progress: Step = noop,
    classic_dockerfile: bytes | None = None,
) -> dict[str, bytes]:
    """{path relative to the manifests dir: bytes}, sorted by path."""
    check(pins)
    files: dict[str, bytes] = {}
    for dep in pins.deployments.values():
        objs = objects(pins, lock, dockerfile, dep, locked, classic_dockerfile)
        for obj in objs:
            files[f"base/{dep.name}/{file_name(obj)}"] = dump(obj)
        files[f"base/{dep.name}/kustomization.yaml"] = dump(
            {"apiVersion": KUSTOMIZE, "kind": "Kustomization", "resources": [file_name(o) for o in objs]}
        )
        progress(dep.name)
    for env in pins.environments.values():
        deps = sorted(d.name for d in pins.deployments.values() if d.environment == env.name)
        own = []
        for obj in environment_objects(pins, env.name):
            name = "namespace.yaml" if obj["kind"] == "Namespace" else file_name(obj)
            files[f"{env.name}/{name}"] = dump(obj)
            own.append(name)
        files[f"{env.name}/kustomization.yaml"] = dump(
            {
                "apiVersion": KUSTOMIZE,
                "kind": "Kustomization",
                "namespace": env.namespace,
                "resources": [*own, *(f"../base/{d}" for d in deps)],
            }
        )
    return dict(sorted(files.items()))


def resolved(
    pins: PinsFile,
    lock: ImageLock,
    dockerfile: bytes,
    env_name: str,
    locked: Locked | None = None,
    classic_dockerfile: bytes | None = None,
) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize manifests/<env>` yields: the environment's own, then each deployment's,
    namespaced."""
    check(pins)
    env = pins.environments[env_name]
    out = [namespace(pins, env_name)]
    out += [
        {**o, "metadata": {**o["metadata"], "namespace": env.namespace}}
        for o in environment_objects(pins, env_name)[1:]
    ]
    for name in sorted(d.name for d in pins.deployments.values() if d.environment == env_name):
        for obj in objects(pins, lock, dockerfile, pins.deployments[name], locked, classic_dockerfile):
            out.append({**obj, "metadata": {**obj["metadata"], "namespace": env.namespace}})
    return out
