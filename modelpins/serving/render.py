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

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from modelpins.errors import InvalidInput, InvalidPins, Problem
from modelpins.pins import Deployment, ModelRef, PinsFile, ServeEntry
from modelpins.progress import Step, noop
from modelpins.serving.lock import ImageLock

HEADER = b"# Rendered by 'modelpins render' from model_pins.yaml. Do not edit: change model_pins.yaml and re-render.\n"
RUNTIME_REPOSITORY = "modelpins-vllm"
MODELS_DIR = "/models"
MLFLOW_CONFIG = "modelpins-mlflow"  # ConfigMap (MLFLOW_TRACKING_URI) and optional Secret (token) per namespace
GATEWAY_GROUP = "gateway.networking.k8s.io"
STARTUP_SECONDS = 1800  # loading a large checkpoint onto GPUs can take many minutes
KUSTOMIZE = "kustomize.config.k8s.io/v1beta1"
MAX_NAME = 63 - len("-candidate")
SHM = "/dev/shm"  # noqa: S108 - a memory-backed volume for vLLM's worker processes, not a temp file


@dataclass(frozen=True)
class Pinned:
    """A served reference resolved to the version the pins file gives its alias."""

    model: str
    alias: str
    version: int

    @property
    def path(self) -> str:
        return f"{MODELS_DIR}/{self.model}/{self.version}"

    def __str__(self) -> str:
        return f"{self.model}@{self.alias}=v{self.version}"


@dataclass(frozen=True)
class Server:
    """One vLLM process: a base model, the names it answers to, LoRA adapters and prompt templates."""

    base: Pinned
    names: tuple[str, ...]
    adapters: tuple[tuple[str, Pinned], ...] = ()
    prompts: tuple[tuple[str, Pinned], ...] = ()

    def refs(self) -> tuple[Pinned, ...]:
        return (self.base, *(p for _, p in self.adapters), *(p for _, p in self.prompts))

    def served(self) -> tuple[str, ...]:
        return (*self.names, *(n for n, _ in self.adapters))


@dataclass(frozen=True)
class Track:
    key: str  # stable | candidate
    name: str  # object name
    color: str | None
    servers: tuple[Server, ...]
    replicas: int

    def refs(self) -> tuple[Pinned, ...]:
        return tuple(r for s in self.servers for r in s.refs())

    def models(self) -> dict[str, int]:
        return {r.model: r.version for r in self.refs()}


# -- resolving the pins file -------------------------------------------------------------------


def resolve(pins: PinsFile, ref: ModelRef) -> Pinned:
    return Pinned(ref.model, ref.alias, pins.models[ref.model].aliases[ref.alias].version)


def served_name(entry: ServeEntry) -> str:
    return entry.served_name or (entry.adapter.model if entry.adapter else entry.model.model)


def servers(pins: PinsFile, entries: Iterable[ServeEntry]) -> tuple[Server, ...]:
    """Group entries by base model: entries on one base share one vLLM process (LoRA adapters)."""
    groups: dict[Pinned, list[ServeEntry]] = {}
    for entry in entries:
        groups.setdefault(resolve(pins, entry.model), []).append(entry)
    out = []
    for base, group in groups.items():
        adapters = tuple((served_name(e), resolve(pins, e.adapter)) for e in group if e.adapter)
        plain = [served_name(e) for e in group if not e.adapter]
        names = tuple(dict.fromkeys(plain if plain else [base.model]))
        prompts = tuple((served_name(e), resolve(pins, e.prompts)) for e in group if e.prompts)
        out.append(Server(base, names, adapters, prompts))
    return tuple(out)


def tracks(pins: PinsFile, dep: Deployment) -> tuple[Track, ...]:
    s = dep.strategy
    stable = servers(pins, dep.serve)
    if s.type == "rolling":
        return (Track("stable", dep.name, None, stable, dep.replicas),)
    candidate = servers(pins, s.candidate)
    if s.type == "blue-green":
        return (
            Track("stable", f"{dep.name}-blue", "blue", stable, dep.replicas),
            Track("candidate", f"{dep.name}-green", "green", candidate, dep.replicas),
        )
    small = max(1, math.ceil(dep.replicas * s.weight / 100))
    return (
        Track("stable", f"{dep.name}-stable", None, stable, dep.replicas),
        Track("candidate", f"{dep.name}-candidate", None, candidate, dep.replicas if s.type == "shadow" else small),
    )


def check(pins: PinsFile) -> None:
    """Serving rules the schema alone cannot see; InvalidPins with file:line and the fix."""
    problems: list[Problem] = []
    for dep in pins.deployments.values():

        def problem(message: str, fix: str, line: int = dep.line) -> None:
            problems.append(Problem(pins.path, line, message, fix))

        env = pins.environments.get(dep.environment)
        if len(dep.name) > MAX_NAME:
            problem(
                f"deployment name '{dep.name}' is longer than {MAX_NAME} characters",
                "shorten it: objects are named '<deployment>-candidate' and must fit 63 characters",
            )
        if dep.strategy.type in ("canary", "ab", "shadow") and env and not env.gateway:
            problem(
                f"deployment '{dep.name}' uses a {dep.strategy.type} strategy, which splits traffic with a "
                f"Gateway API HTTPRoute, but environment '{env.name}' has no gateway",
                f"add 'gateway: <namespace>/<name>' to environments.{env.name}, or use rolling or blue-green",
                dep.strategy.line or dep.line,
            )
        if env and env.gateway and env.gateway.count("/") != 1:
            problem(
                f"gateway '{env.gateway}' of environment '{env.name}' must be written '<namespace>/<name>'",
                "e.g. 'gateway: gateways/ml-gateway'",
                env.line,
            )
        for entry in dep.serve + dep.strategy.candidate:
            for ref, role, kinds in (
                (entry.model, "model", ("model", "base")),
                (entry.adapter, "adapter", ("adapter",)),
                (entry.prompts, "prompts", ("prompts",)),
            ):
                kind = pins.models[ref.model].kind if ref else None
                if ref and kind not in kinds:
                    problem(
                        f"'{ref}' is of kind '{kind}' but is served as '{role}'",
                        f"move it to the '{kind if kind != 'base' else 'model'}' field of this entry, "
                        f"or correct models.{ref.model}.kind",
                        ref.line or entry.line,
                    )
            trained_on = pins.models[entry.adapter.model].base if entry.adapter else None
            if entry.adapter and trained_on and trained_on.model != entry.model.model:
                problem(
                    f"adapter '{entry.adapter}' was trained on '{trained_on.model}', not '{entry.model.model}'",
                    f"serve it on '{trained_on}'",
                    entry.line or dep.line,
                )
            elif (
                entry.adapter and trained_on and resolve(pins, trained_on).version != resolve(pins, entry.model).version
            ):
                problem(
                    f"adapter '{entry.adapter}' was trained on {trained_on} (v{resolve(pins, trained_on).version}) "
                    f"but is served on {entry.model} (v{resolve(pins, entry.model).version})",
                    f"serve it on '{trained_on}', or pin an adapter version trained on that base version",
                    entry.line or dep.line,
                )
        ts = tracks(pins, dep)
        for t in ts:
            names = [n for s in t.servers for n in s.served()]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                problem(
                    f"deployment '{dep.name}' serves the name(s) {', '.join(dupes)} twice in its {t.key} track",
                    "give each serve entry a distinct 'name'",
                )
        if len(ts) == 2 and [s.served() for s in ts[0].servers] != [s.served() for s in ts[1].servers]:
            problem(
                f"deployment '{dep.name}': the candidate must serve the same model names as the stable track "
                f"(stable: {_names(ts[0])}; candidate: {_names(ts[1])}), or clients would call names one "
                "track does not have",
                "list the candidate entries in the same order with the same 'name'",
                dep.strategy.line or dep.line,
            )
    if problems:
        raise InvalidPins(problems)


def _names(t: Track) -> str:
    return ", ".join("+".join(s.served()) for s in t.servers)


# -- images ------------------------------------------------------------------------------------


def runtime_tag(base: str, dockerfile: bytes) -> str:
    """The content-addressed tag of the generic runtime image (base image + Dockerfile)."""
    return "runtime-" + hashlib.sha256(base.encode() + b"\n" + dockerfile).hexdigest()[:12]


def image_for(pins: PinsFile, lock: ImageLock, dockerfile: bytes, dep: Deployment, track: Track) -> str:
    if dep.artifacts == "image":
        entry = lock.images.get(f"{dep.name}/{track.key}")
        if entry is None or entry.models != track.models():
            built = f"built from {entry.models}" if entry else "no image recorded"
            raise InvalidInput(
                f"deployment '{dep.name}' ({pins.path}:{dep.line}) bakes its models into the image "
                f"('artifacts: image') and deploy/images.lock.json has {built} for {dep.name}/{track.key}, "
                f"but the pins serve {track.models()}; fix: run 'modelpins build --push' (with MLflow access), "
                "then render"
            )
        return entry.image
    if not pins.images.base:
        raise InvalidInput(
            f"{pins.path}: deployments need 'images.base' (vLLM's image pinned by digest) to name their runtime "
            "image; fix: add 'images: {registry: REGISTRY, base: vllm/vllm-openai@sha256:...}'"
        )
    tag = runtime_tag(pins.images.base, dockerfile)
    if lock.runtime and lock.runtime.tag == tag:
        return lock.runtime.image
    if not pins.images.registry:
        raise InvalidInput(
            f"{pins.path}: no registry to name the runtime image {tag}; fix: add 'images.registry' "
            "(e.g. ghcr.io/acme/serving) or run 'modelpins build --push --registry HOST' to record it"
        )
    return f"{pins.images.registry}/{RUNTIME_REPOSITORY}:{tag}"


# -- objects -----------------------------------------------------------------------------------


def labels(dep: Deployment, track: Track | None = None) -> dict[str, str]:
    out = {
        "app.kubernetes.io/name": dep.name,
        "app.kubernetes.io/instance": track.name if track else dep.name,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": dep.name,
        "app.kubernetes.io/managed-by": "modelpins",
    }
    if track:
        primary = track.servers[0]
        out["app.kubernetes.io/version"] = f"v{(primary.adapters[0][1] if primary.adapters else primary.base).version}"
        out["modelpins.io/track"] = track.key
        if track.color:
            out["modelpins.io/color"] = track.color
    return out


def track_annotations(track: Track) -> dict[str, str]:
    primary = track.servers[0].adapters[0][1] if track.servers[0].adapters else track.servers[0].base
    return {
        "modelpins.io/model": primary.model,
        "modelpins.io/version": str(primary.version),
        "modelpins.io/serves": ", ".join(str(r) for r in track.refs()),
    }


def _meta(name: str, lbls: dict[str, str], annos: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": lbls}
    if annos:
        meta["annotations"] = annos
    return meta


def _ports(dep: Deployment, count: int) -> list[tuple[str, int]]:
    return [("http" if i == 0 else f"http-{i + 1}", dep.port + i) for i in range(count)]


def deployment(dep: Deployment, track: Track, image: str) -> dict[str, Any]:
    init = dep.artifacts == "init"
    res = dep.resources
    requests: dict[str, Any] = {"cpu": res.cpu, "memory": res.memory}
    limits: dict[str, Any] = {"memory": res.memory}
    if res.gpu:
        requests["nvidia.com/gpu"] = res.gpu
        limits["nvidia.com/gpu"] = res.gpu
    hardened = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    containers: list[dict[str, Any]] = []
    for (port_name, port), server in zip(_ports(dep, len(track.servers)), track.servers, strict=True):
        args = ["--model", server.base.path, "--served-model-name", *server.names, "--port", str(port)]
        if server.adapters:
            args += ["--enable-lora", "--lora-modules", *(f"{n}={p.path}" for n, p in server.adapters)]
        args += list(dep.vllm_args)
        probe = {"httpGet": {"path": "/health", "port": port_name}}
        container: dict[str, Any] = {
            "name": "vllm" if len(track.servers) == 1 else f"vllm-{len(containers) + 1}",
            "image": image,
            "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
            "args": args,
        }
        if server.prompts:
            prompts = ",".join(f"{n}={p.path}" for n, p in server.prompts)
            container["env"] = [{"name": "MODELPINS_PROMPTS", "value": prompts}]
        container |= {
            "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
            "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": STARTUP_SECONDS // 10},
            "readinessProbe": {**probe, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
            "livenessProbe": {**probe, "periodSeconds": 15, "timeoutSeconds": 5, "failureThreshold": 4},
            "resources": {"requests": requests, "limits": limits},
            "securityContext": hardened,
            "volumeMounts": ([{"name": "models", "mountPath": MODELS_DIR, "readOnly": True}] if init else [])
            + [{"name": "shm", "mountPath": SHM}],
        }
        containers.append(container)
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "terminationGracePeriodSeconds": 60,
    }
    if init:
        pod["initContainers"] = [
            {
                "name": f"fetch-{i + 1}",
                "image": image,
                "command": ["python3", "-m", "mlflow", "artifacts", "download"],
                "args": ["--artifact-uri", f"models:/{ref.model}/{ref.version}", "--dst-path", ref.path],
                "envFrom": [
                    {"configMapRef": {"name": MLFLOW_CONFIG}},
                    {"secretRef": {"name": MLFLOW_CONFIG, "optional": True}},
                ],
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
                "securityContext": hardened,
                "volumeMounts": [{"name": "models", "mountPath": MODELS_DIR}],
            }
            for i, ref in enumerate(dict.fromkeys(track.refs()))
        ]
    pod["containers"] = containers
    if res.gpu:
        pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    volumes: list[dict[str, Any]] = [{"name": "models", "emptyDir": {}}] if init else []
    pod["volumes"] = volumes + [{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}}]
    selector = {
        k: v for k, v in labels(dep, track).items() if k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(track.name, labels(dep, track), track_annotations(track)),
        "spec": {
            "replicas": track.replicas,
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": STARTUP_SECONDS + 300,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels(dep, track), "annotations": track_annotations(track)},
                "spec": pod,
            },
        },
    }


def service(dep: Deployment, name: str, selector: dict[str, str], count: int, lbls: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, lbls),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": n, "port": p, "targetPort": n, "protocol": "TCP", "appProtocol": "http"}
                for n, p in _ports(dep, count)
            ],
        },
    }


def pdb(dep: Deployment, track: Track) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(track.name, labels(dep, track)),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": dep.name, "app.kubernetes.io/instance": track.name}},
        },
    }


def httproute(pins: PinsFile, dep: Deployment, ts: tuple[Track, ...]) -> dict[str, Any] | None:
    env = pins.environments[dep.environment]
    if not env.gateway:
        return None
    gw_ns, _, gw_name = env.gateway.partition("/")
    s = dep.strategy
    rules = []
    for i, (_, port) in enumerate(_ports(dep, len(ts[0].servers))):
        if s.type in ("canary", "ab"):
            rule: dict[str, Any] = {
                "backendRefs": [
                    {"name": ts[0].name, "port": port, "weight": 100 - s.weight},
                    {"name": ts[1].name, "port": port, "weight": s.weight},
                ]
            }
        elif s.type == "shadow":
            rule = {
                "filters": [
                    {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": ts[1].name, "port": port}}}
                ],
                "backendRefs": [{"name": ts[0].name, "port": port}],
            }
        else:
            rule = {"backendRefs": [{"name": dep.name, "port": port}]}
        if len(ts[0].servers) > 1:
            # Several vLLM processes in one pod: each is reached under /<its first served name>/.
            prefix = f"/{ts[0].servers[i].served()[0]}/"
            rewrite = {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
            }
            rule = {"matches": [{"path": {"type": "PathPrefix", "value": prefix}}], **rule}
            rule["filters"] = [rewrite, *rule.get("filters", [])]
        rules.append(rule)
    spec: dict[str, Any] = {
        "parentRefs": [{"group": GATEWAY_GROUP, "kind": "Gateway", "namespace": gw_ns, "name": gw_name}]
    }
    if env.hostnames:
        spec["hostnames"] = list(env.hostnames)
    spec["rules"] = rules
    annos = {"modelpins.io/strategy": s.type}
    if s.type in ("canary", "ab"):
        annos["modelpins.io/weight"] = str(s.weight)
        if s.steps:
            annos["modelpins.io/steps"] = ",".join(map(str, s.steps))
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": _meta(dep.name, labels(dep), annos),
        "spec": spec,
    }


def objects(pins: PinsFile, lock: ImageLock, dockerfile: bytes, dep: Deployment) -> list[dict[str, Any]]:
    """Every object of one deployment, without a namespace (the environment overlay sets it)."""
    ts = tracks(pins, dep)
    count = len(ts[0].servers)
    out = [deployment(dep, t, image_for(pins, lock, dockerfile, dep, t)) for t in ts]
    base = {"app.kubernetes.io/name": dep.name}
    for t in ts:
        if len(ts) > 1:
            out.append(service(dep, t.name, {**base, "app.kubernetes.io/instance": t.name}, count, labels(dep, t)))
    if dep.strategy.type == "blue-green":
        active = {**base, "modelpins.io/color": dep.strategy.active}
        out.append(service(dep, dep.name, active, count, {**labels(dep), "modelpins.io/color": dep.strategy.active}))
    elif len(ts) == 1:
        out.append(service(dep, dep.name, {**base, "app.kubernetes.io/instance": dep.name}, count, labels(dep)))
    else:
        stable = {**base, "app.kubernetes.io/instance": ts[0].name}
        out.append(service(dep, dep.name, stable, count, labels(dep)))
    out += [pdb(dep, t) for t in ts]
    route = httproute(pins, dep, ts)
    if route:
        out.append(route)
    return out


def namespace(pins: PinsFile, env_name: str) -> dict[str, Any]:
    env = pins.environments[env_name]
    lbls = {"app.kubernetes.io/managed-by": "modelpins", "modelpins.io/environment": env_name}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.namespace, "labels": lbls}}


# -- files -------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors or aliases where one dict is used twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(obj: dict[str, Any]) -> bytes:
    text = yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10_000)
    return HEADER + text.encode()


def file_name(obj: dict[str, Any]) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def render(pins: PinsFile, lock: ImageLock, dockerfile: bytes, progress: Step = noop) -> dict[str, bytes]:
    """{path relative to the manifests dir: bytes}, sorted by path."""
    check(pins)
    files: dict[str, bytes] = {}
    for dep in pins.deployments.values():
        objs = objects(pins, lock, dockerfile, dep)
        for obj in objs:
            files[f"base/{dep.name}/{file_name(obj)}"] = dump(obj)
        files[f"base/{dep.name}/kustomization.yaml"] = dump(
            {"apiVersion": KUSTOMIZE, "kind": "Kustomization", "resources": [file_name(o) for o in objs]}
        )
        progress(dep.name)
    for env in pins.environments.values():
        deps = sorted(d.name for d in pins.deployments.values() if d.environment == env.name)
        files[f"{env.name}/namespace.yaml"] = dump(namespace(pins, env.name))
        files[f"{env.name}/kustomization.yaml"] = dump(
            {
                "apiVersion": KUSTOMIZE,
                "kind": "Kustomization",
                "namespace": env.namespace,
                "resources": ["namespace.yaml", *(f"../base/{d}" for d in deps)],
            }
        )
    return dict(sorted(files.items()))


def resolved(pins: PinsFile, lock: ImageLock, dockerfile: bytes, env_name: str) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize manifests/<env>` yields: the namespace, then each deployment's, namespaced."""
    check(pins)
    env = pins.environments[env_name]
    out = [namespace(pins, env_name)]
    for name in sorted(d.name for d in pins.deployments.values() if d.environment == env_name):
        for obj in objects(pins, lock, dockerfile, pins.deployments[name]):
            out.append({**obj, "metadata": {**obj["metadata"], "namespace": env.namespace}})
    return out
