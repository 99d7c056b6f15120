"""The served-drift comparison itself (pure): rendered objects of the golden pins file against live copies.

The live copies carry what a real API server adds to applied objects (uid, resourceVersion,
status, container defaults, Gateway API's defaults on HTTPRoute backends), so these tests
also show that those additions are not reported as drift.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from modelpins import pins
from modelpins.drift.served import check, key
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.render import resolved

HERE = Path(__file__).parent
DOCKERFILE = (HERE.parents[1] / "deploy" / "Dockerfile").read_bytes()


class Live:
    """Objects as a cluster holds them, read the way the cluster adapter reads them."""

    def __init__(self, objects: list[dict[str, Any]]):
        self.objects = {(o["metadata"]["namespace"], *key(o)): o for o in objects}

    def get(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        return self.objects.get((obj["metadata"]["namespace"], *key(obj)))

    def managed(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        return [
            o
            for (ns, k, _), o in self.objects.items()
            if ns == namespace and k == kind and o["metadata"]["labels"].get("app.kubernetes.io/managed-by")
        ]

    def find(self, kind: str, name: str) -> dict[str, Any]:
        return next(o for (_, k, n), o in self.objects.items() if (k, n) == (kind, name))


def as_served(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` after a real API server applied it: server fields and defaults added."""
    live = copy.deepcopy(obj)
    live["metadata"] |= {"uid": "0f1e", "resourceVersion": "812", "generation": 3}
    if obj["kind"] == "Deployment":
        pod = live["spec"]["template"]["spec"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            c |= {"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"}
        pod |= {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}
        live["status"] = {"replicas": 1}
    if obj["kind"] == "HTTPRoute":
        for rule in live["spec"]["rules"]:
            for ref in rule["backendRefs"]:
                ref.setdefault("weight", 1)
                ref |= {"group": "", "kind": "Service"}
    if obj["kind"] == "Service":
        live["spec"] |= {"clusterIP": "10.96.0.12", "sessionAffinity": "None"}
    return live


def golden() -> tuple[pins.PinsFile, dict[str, tuple[str, list[dict[str, Any]]]]]:
    p = pins.load(HERE / "golden" / "model_pins.yaml")
    lock = ImageLock()
    return p, {e: (env.namespace, resolved(p, lock, DOCKERFILE, e)) for e, env in p.environments.items()}


def rows(found: list[Any]) -> list[tuple[str, str, str | None, str | None]]:
    return [(d.ref, d.field, d.expected, d.actual) for d in found]


def test_every_strategy_as_a_server_keeps_it_is_no_drift() -> None:
    p, rendered = golden()
    live = Live([as_served(o) for _, objs in rendered.values() for o in objs if o["kind"] != "Namespace"])

    assert check(live, rendered, p.environments) == []


def test_containers_and_route_rules_of_a_pod_with_two_servers_are_named() -> None:
    p, rendered = golden()
    live = Live([as_served(o) for _, objs in rendered.values() for o in objs if o["kind"] != "Namespace"])
    tabular = live.find("Deployment", "tabular")
    pod = tabular["spec"]["template"]["spec"]
    rendered_image = pod["containers"][1]["image"]
    pod["containers"][1]["image"] = "ghcr.io/acme/hotfix:2"
    fetch = pod["initContainers"][1]["args"]
    fetch[fetch.index("--artifact-uri") + 1] = fetch[fetch.index("--artifact-uri") + 1].rsplit("/", 1)[0] + "/1"
    route = live.find("HTTPRoute", "tabular")
    route["spec"]["rules"][1]["backendRefs"] = [{"name": "somewhere-else", "port": 8001}]
    shadow = live.find("HTTPRoute", "fraud-shadow")
    shadow["spec"]["rules"][0].pop("filters")

    found = rows(check(live, rendered, p.environments))

    want = next(o for o in rendered["prod"][1] if key(o) == ("Deployment", "tabular"))
    uri = want["spec"]["template"]["spec"]["initContainers"][1]["args"][1]
    assert found == [  # in render order: deployments by name, each one's Deployments before its HTTPRoute
        ("httproute/fraud-shadow", "backends", "fraud-shadow-stable=1 mirror=fraud-shadow-candidate",
         "fraud-shadow-stable=1"),
        ("deployment/tabular", "image (mlflow-2)", rendered_image, "ghcr.io/acme/hotfix:2"),
        ("deployment/tabular", "args (fetch-2)", f"... --artifact-uri {uri} ...",
         f"... --artifact-uri {uri.rsplit('/', 1)[0]}/1 ..."),
        ("httproute/tabular", "backends (rule 2)", "tabular=1", "somewhere-else=1"),
    ]  # fmt: skip


SHARED = """version: 1
models:
  scorer:
    aliases: {champion: 3, challenger: 4}
images:
  registry: registry.example/serving
  base: vllm/vllm-openai@sha256:1d6866b87630d94f5e0cdae55ab5abb4ce0b03fcb84d9d10612f9d518d19d4fd
  classic: registry.example/serving/mlflow-serve@sha256:1111111111111111111111111111111111111111111111111111111111111111
environments:
  staging: {namespace: ml, tracking_uri: http://mlflow.ml:5000}
  prod: {namespace: ml, tracking_uri: http://mlflow.ml:5000}
deployments:
  scoring-staging: {environment: staging, serve: [scorer@challenger]}
  scoring: {environment: prod, serve: [scorer@champion]}
"""


def test_objects_another_environment_renders_into_the_namespace_are_not_unexpected() -> None:
    p = pins.loads(SHARED)
    rendered = {e: (env.namespace, resolved(p, ImageLock(), DOCKERFILE, e)) for e, env in p.environments.items()}
    everything = [as_served(o) for _, objs in rendered.values() for o in objs if o["kind"] != "Namespace"]
    stale = copy.deepcopy(next(o for o in everything if key(o) == ("Deployment", "scoring")))
    stale["metadata"]["name"] = "scoring-old"
    live = Live([*everything, stale])

    found = check(live, rendered, ["prod"])
    both = check(live, rendered, ["staging", "prod"])

    assert rows(found) == [("deployment/scoring-old", "object", None, "present")]
    assert found[0].environment == "prod" and found[0].status == "not rendered"
    assert rows(both) == rows(found)  # once, not once per environment
