"""Every deployment is reachable: the rendered HTTPRoutes, read with Gateway API precedence (tests/serving/gateway.py),
send each deployment's requests to that deployment, and each track gets the share the pins file declares.

Run over the repository's model_pins.yaml and the every-strategy golden pins. No Gateway runs here: the
precedence rules are the specification's, modelled in gateway.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelpins import pins as pinsmod
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.render import resolved
from modelpins.serving.tracks import route_target, servers
from tests.helpers.cli import run
from tests.serving import gateway

HERE = Path(__file__).parent
REPO = HERE.parents[1]
DOCKERFILE = (REPO / "deploy" / "Dockerfile").read_bytes()
CLASSIC_DOCKERFILE = (REPO / "deploy" / "Dockerfile.mlflow").read_bytes()
PINS = {"repository": REPO / "model_pins.yaml", "every strategy": HERE / "golden" / "model_pins.yaml"}
API_PATH = "/v1/chat/completions"


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def pods_behind(objs: list[dict[str, Any]], service: str, port: int) -> list[tuple[str, int]]:
    """(Deployment, container port) the Service sends `port` to."""
    svc = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == service)
    target = next(p["targetPort"] for p in svc["spec"]["ports"] if p["port"] == port)
    out = []
    for dep in (o for o in objs if o["kind"] == "Deployment"):
        if selects(svc["spec"]["selector"], dep["spec"]["template"]["metadata"]["labels"]):
            for c in dep["spec"]["template"]["spec"]["containers"]:
                out += [(dep["metadata"]["name"], p["containerPort"]) for p in c["ports"] if p["name"] == target]
    return out


def expected_shares(dep: pinsmod.Deployment) -> dict[str, float]:
    s = dep.strategy
    if s.type == "rolling":
        return {dep.name: 1.0}
    if s.type == "blue-green":
        return {f"{dep.name}-{s.active}": 1.0}
    if s.type == "shadow":
        return {f"{dep.name}-stable": 1.0}
    return {f"{dep.name}-stable": (100 - s.weight) / 100, f"{dep.name}-candidate": s.weight / 100}


def request_host(hosts: tuple[str, ...]) -> str:
    if not hosts:
        return "any.gateway.example"
    return "client." + hosts[0][2:] if hosts[0].startswith("*.") else hosts[0]


@pytest.mark.parametrize("which", sorted(PINS))
def test_each_deployment_and_each_track_receives_its_declared_share(which: str) -> None:
    pins = pinsmod.load(PINS[which])
    checked = 0
    for env in pins.environments.values():
        if not env.gateway:
            continue
        objs = resolved(pins, ImageLock(), DOCKERFILE, env.name, classic_dockerfile=CLASSIC_DOCKERFILE)
        routes = [o for o in objs if o["kind"] == "HTTPRoute"]
        for dep in (d for d in pins.deployments.values() if d.environment == env.name):
            hosts, prefix = route_target(pins, dep)
            stable = servers(pins, dep.serve)
            for i, server in enumerate(stable):
                sub = f"/{server.served()[0]}" if len(stable) > 1 else ""
                path = prefix.rstrip("/") + sub + API_PATH
                choice = gateway.choose(routes, request_host(hosts), path)

                assert choice is not None, f"{dep.name}: no route matches {request_host(hosts)}{path}"
                assert choice.route["metadata"]["name"] == dep.name, (
                    f"{dep.name}'s requests ({request_host(hosts)}{path}) go to route "
                    f"{choice.route['metadata']['name']}"
                )
                assert choice.tied_with == (), f"{dep.name}: tie with {choice.tied_with} (decided by creation time)"
                assert gateway.rewritten(choice.rule, path) == API_PATH
                if dep.strategy.engine == "argo-rollouts":  # the Rollout's controller sets the weights from here on
                    assert sum(gateway.shares(choice.rule).values()) == pytest.approx(1.0)
                    assert any(o["kind"] == "Rollout" and o["metadata"]["name"] == dep.name for o in objs), dep.name
                    checked += 1
                    continue
                got: dict[str, float] = {}
                for (svc, port), share in gateway.shares(choice.rule).items():
                    for deployment, container_port in pods_behind(objs, svc, port):
                        assert container_port == dep.port + i, f"{dep.name}: server {i + 1} reached on the wrong port"
                        got[deployment] = got.get(deployment, 0.0) + share
                assert got == pytest.approx(expected_shares(dep)), f"{dep.name}: shares {got}"
                mirrored = [d for svc, port in gateway.mirrors(choice.rule) for d, _ in pods_behind(objs, svc, port)]
                assert mirrored == ([f"{dep.name}-candidate"] if dep.strategy.type == "shadow" else [])
                checked += 1
    assert checked >= 2


def test_default_route_is_a_hostname_per_deployment_below_the_environment_hostname() -> None:
    pins = pinsmod.load(REPO / "model_pins.yaml")

    assert route_target(pins, pins.deployments["credit-risk"]) == (("credit-risk.models.acme.example",), "/")
    assistant = route_target(pins, pins.deployments["support-assistant"])
    assert assistant == (("support-assistant.models.acme.example",), "/")


def test_without_hostnames_each_deployment_gets_a_path_prefix_rewritten_to_root(tmp_path: Path) -> None:
    text = (HERE / "golden" / "model_pins.yaml").read_text().replace("    hostnames: [models.example]\n", "")
    pins = pinsmod.loads(text, str(tmp_path / "model_pins.yaml"))
    objs = resolved(pins, ImageLock(), DOCKERFILE, "prod")
    routes = [o for o in objs if o["kind"] == "HTTPRoute"]

    choice = gateway.choose(routes, "gw.example", "/fraud-ab/v1/completions")

    assert choice is not None and choice.route["metadata"]["name"] == "fraud-ab"
    assert gateway.rewritten(choice.rule, "/fraud-ab/v1/completions") == "/v1/completions"
    assert "hostnames" not in choice.route["spec"]


COLLIDING = {
    "same hostname, no path": (
        lambda t: t.replace("  fraud-ab:\n", "  fraud-ab:\n    route: {hostnames: [fraud-shadow.models.example]}\n"),
        "route: {hostnames: [fraud-shadow.models.example]}",
    ),
}


@pytest.mark.parametrize("case", sorted(COLLIDING))
def test_validate_refuses_two_routes_that_match_the_same_requests(case: str, tmp_path: Path) -> None:
    edit, marker = COLLIDING[case]
    text = edit((HERE / "golden" / "model_pins.yaml").read_text())
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if marker in row)

    result = run("--pins", pins, "validate", "--offline")

    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{pins}:{line}" in result.stderr
    assert "would match the same requests" in result.stderr
    assert "fix" in result.stderr


# Pairs that only look like ties (nested prefixes, a wildcard covering an exact name):
# tests/serving/test_serving_rules.py


def test_distinct_path_prefixes_on_one_hostname_are_valid(tmp_path: Path) -> None:
    text = (HERE / "golden" / "model_pins.yaml").read_text()
    text = text.replace("  fraud-ab:\n", "  fraud-ab:\n    route: {hostnames: [shared.example], path: /fraud-ab}\n")
    text = text.replace("  fraud-shadow:\n", "  fraud-shadow:\n    route: {hostnames: [shared.example], path: /sh}\n")
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(text)

    result = run("--pins", pins, "validate", "--offline")

    assert result.returncode == 0, result.stderr
