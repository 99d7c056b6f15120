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

from modelpins.errors import InvalidInput, InvalidPins, Problem
from modelpins.pins import Deployment, ModelRef, PinsFile, Route, ServeEntry
from modelpins.progress import Step, noop
from modelpins.serving import layout
from modelpins.serving.emit import dump
from modelpins.serving.layout import Locked
from modelpins.serving.lock import ImageLock

RUNTIME_REPOSITORY = "modelpins-vllm"
CLASSIC_REPOSITORY = "mlflow-serve"  # MLflow's model server image for classic models (deploy/Dockerfile.mlflow)
MODELS_DIR = "/models"
MLFLOW_CONFIG = (
    "modelpins-mlflow"  # ConfigMap (rendered: MLFLOW_TRACKING_URI) and optional Secret (token) per namespace
)
GATEWAY_GROUP = "gateway.networking.k8s.io"
STARTUP_SECONDS = 1800  # loading a large checkpoint onto GPUs can take many minutes
KUSTOMIZE = "kustomize.config.k8s.io/v1beta1"
MAX_NAME = 63 - len("-candidate")
SHM = "/dev/shm"  # noqa: S108 - a memory-backed volume for vLLM's worker processes, not a temp file
UID = 10001  # deploy/Dockerfile's USER: a high UID no host account has
HOME = "/home/modelpins"  # an emptyDir: vLLM, Triton, torch.compile and Hugging Face write caches under $HOME
TMP_MIB, HOME_MIB = 1024, 4096  # emptyDir size limits of /tmp and $HOME
FETCH_COMMAND = ["python3", "-m", "mlflow", "artifacts", "download"]
VLLM_COMMAND = ["vllm", "serve"]  # the model directory is the first argument
MLFLOW_COMMAND = ["mlflow", "models", "serve"]  # MLflow's model server (pyfunc), for classic models


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


def loads(pins: PinsFile, ref: Pinned, locked: Locked | None) -> str:
    """The path the runtime loads for `ref`: inside its download, where model_pins.lock (or MLflow's layout) says."""
    found = locked.layouts.get((ref.model, ref.version)) if locked else None
    return layout.join(ref.path, (found or layout.DEFAULTS[pins.models[ref.model].kind]).path)


def server_command(pins: PinsFile, server: Server, port: int, locked: Locked | None) -> tuple[list[str], list[str]]:
    """(command, args) of one server: `vllm serve` for LLMs, `mlflow models serve` for classic models."""
    base = server.base
    if layout.runtime(pins.models[base.model].kind) == layout.MLFLOW:
        args = ["-m", loads(pins, base, locked), "--host", "0.0.0.0", "--port", str(port)]  # noqa: S104
        return MLFLOW_COMMAND, [*args, "--env-manager", "local", "--workers", "1"]
    args = [loads(pins, base, locked), "--served-model-name", *server.names, "--port", str(port)]
    found = locked.layouts.get((base.model, base.version)) if locked else None
    tokenizer = (found or layout.DEFAULTS["base"]).tokenizer
    if tokenizer:
        args += ["--tokenizer", layout.join(base.path, tokenizer)]
    if server.adapters:
        args += ["--enable-lora", "--lora-modules", *(f"{n}={loads(pins, p, locked)}" for n, p in server.adapters)]
    if server.prompts:
        args += ["--chat-template", loads(pins, server.prompts[0][1], locked)]
    return VLLM_COMMAND, args


def classic_image(pins: PinsFile, dep: Deployment, lock: ImageLock | None = None) -> str:
    """MLflow's model server image: images.classic as given, else the one build made on images.classic_base."""
    if pins.images.classic:
        return pins.images.classic
    built = lock.classic if lock else None
    if pins.images.classic_base and built and built.basis == pins.images.classic_base:
        return built.image
    if pins.images.classic_base:
        raise InvalidInput(
            f"deployment '{dep.name}' ({pins.path}:{dep.line}) serves a classic model on MLflow's model server, "
            "and deploy/images.lock.json records no image built on images.classic_base yet; fix: run "
            "'modelpins build --push' (it builds deploy/Dockerfile.mlflow) and commit deploy/images.lock.json"
        )
    raise InvalidInput(
        f"deployment '{dep.name}' ({pins.path}:{dep.line}) serves a classic model (kind: model), which MLflow's "
        "model server runs, but the pins name no image for it; fix: add 'images: {classic_base: "
        "python:3.12-slim@sha256:...}' for 'modelpins build' to make it from deploy/Dockerfile.mlflow, or 'images: "
        "{classic: REGISTRY/mlflow-serve@sha256:...}' (mlflow and the flavors' libraries)"
    )


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
            for srv in t.servers:
                group = [e for e in (dep.serve if t.key == "stable" else dep.strategy.candidate)
                         if resolve(pins, e.model) == srv.base]  # fmt: skip
                if len({e.prompts and resolve(pins, e.prompts) for e in group}) > 1:
                    problem(
                        f"deployment '{dep.name}': the entries on {srv.base.model} in its {t.key} track are one "
                        "vLLM process, which applies one chat template to every name it serves, but they pin "
                        "different prompts (or some none)",
                        "give every entry on that base the same 'prompts', or serve them in separate deployments",
                        group[-1].line or dep.line,
                    )
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
    problems += _route_conflicts(pins) + _mlflow_config_problems(pins)
    if problems:
        raise InvalidPins(problems)


def needs_mlflow(pins: PinsFile, env_name: str) -> bool:
    """Whether pods of the environment download artefacts from MLflow (so reference ConfigMap modelpins-mlflow)."""
    return any(d.artifacts == "init" for d in pins.deployments.values() if d.environment == env_name)


def _mlflow_config_problems(pins: PinsFile) -> list[Problem]:
    problems = []
    by_namespace: dict[str, str] = {}
    for env in pins.environments.values():
        if needs_mlflow(pins, env.name) and not env.tracking_uri:
            problems.append(
                Problem(
                    pins.path,
                    env.line,
                    f"environment '{env.name}' serves deployments whose init containers download models from "
                    f"MLflow, but names no MLflow server (rendered into ConfigMap {MLFLOW_CONFIG})",
                    f"add 'tracking_uri: https://<mlflow host>' to environments.{env.name}",
                )
            )
        if env.tracking_uri and by_namespace.setdefault(env.namespace, env.tracking_uri) != env.tracking_uri:
            problems.append(
                Problem(
                    pins.path,
                    env.line,
                    f"environment '{env.name}' shares namespace {env.namespace} with another environment but names "
                    f"another tracking_uri ({env.tracking_uri} vs {by_namespace[env.namespace]}); one ConfigMap "
                    f"{MLFLOW_CONFIG} per namespace holds it",
                    "give the environments the same tracking_uri, or separate namespaces",
                )
            )
    return problems


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


CLASSIC_NOTE = "images.classic of model_pins.yaml: MLflow's model server image, built from deploy/Dockerfile.mlflow"
CLASSIC_BUILT = (
    "pinned by digest in deploy/images.lock.json (classic), written by 'modelpins build --push' from "
    "deploy/Dockerfile.mlflow on images.classic_base"
)


def image_note(image: str) -> str:
    """What the manifests say about their image: where its digest comes from, or that it was never pushed."""
    if "@sha256:" in image:
        return "pinned by digest in deploy/images.lock.json, written by 'modelpins build --push'"
    return (
        "not pushed yet: the content-addressed tag of images.base and deploy/Dockerfile; 'modelpins build --push' "
        "builds it and records its digest in deploy/images.lock.json, and render then pins it"
    )


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


def mib(n: int) -> str:
    return f"{n}Mi"


def model_volume_mib(dep: Deployment, track: Track, locked: Locked | None) -> int | None:
    """MiB for the track's artefacts: model_pins.lock's bytes + 10% for partial downloads (None: no lock)."""
    if locked is None:
        return None
    sizes = locked.sizes
    refs = dict.fromkeys(track.refs())
    missing = [str(r) for r in refs if (r.model, r.version) not in sizes]
    if missing:
        raise InvalidInput(
            f"deployment '{dep.name}' serves {', '.join(missing)}, which model_pins.lock does not list, so the "
            "size of its model volume is unknown; fix: run 'modelpins lock' and commit model_pins.lock"
        )
    total = sum(sizes[(r.model, r.version)] for r in refs)
    return max(1, math.ceil(total * 1.1 / 2**20))


def deployment(
    pins: PinsFile,
    dep: Deployment,
    track: Track,
    image: str,
    locked: Locked | None = None,
    lock: ImageLock | None = None,
) -> dict[str, Any]:
    """The Deployment of one track. Restricted Pod Security: non-root UID, no capabilities, RuntimeDefault
    seccomp, read-only root filesystem with emptyDirs for /tmp, $HOME (caches) and the models."""
    init = dep.artifacts == "init"
    res = dep.resources
    model_mib = model_volume_mib(dep, track, locked) if init else None
    scratch = TMP_MIB + HOME_MIB + (model_mib or 0)
    requests: dict[str, Any] = {"cpu": res.cpu, "memory": res.memory, "ephemeral-storage": mib(scratch)}
    # Requests equal to limits for CPU and memory: the Guaranteed QoS class, last to be evicted.
    limits: dict[str, Any] = {"cpu": res.cpu, "memory": res.memory}
    if res.gpu:
        requests["nvidia.com/gpu"] = res.gpu
        limits["nvidia.com/gpu"] = res.gpu
    hardened = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
    }
    writable = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "home", "mountPath": HOME}]  # noqa: S108
    containers: list[dict[str, Any]] = []
    for (port_name, port), server in zip(_ports(dep, len(track.servers)), track.servers, strict=True):
        kind = pins.models[server.base.model].kind
        command, args = server_command(pins, server, port, locked)
        if layout.runtime(kind) == layout.VLLM:
            args += list(dep.vllm_args)
        probe = {"httpGet": {"path": "/health", "port": port_name}}
        prefix = "vllm" if layout.runtime(kind) == layout.VLLM else "mlflow"
        container: dict[str, Any] = {
            "name": prefix if len(track.servers) == 1 else f"{prefix}-{len(containers) + 1}",
            # baked ('artifacts: image'): the image holds the models and the server; else each runtime's image
            "image": classic_image(pins, dep, lock) if init and layout.runtime(kind) == layout.MLFLOW else image,
            "imagePullPolicy": "Always",
            "command": command,
            "args": args,
        }
        env = [{"name": "HOME", "value": HOME}]
        first = not containers
        container |= {
            "env": env,
            "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
            "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": STARTUP_SECONDS // 10},
            "readinessProbe": {**probe, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
            "livenessProbe": {**probe, "periodSeconds": 15, "timeoutSeconds": 5, "failureThreshold": 4},
            # The pod's scratch space (emptyDirs) is requested once, on the first container.
            "resources": {
                "requests": requests if first else {k: v for k, v in requests.items() if k != "ephemeral-storage"},
                "limits": limits,
            },
            "securityContext": hardened,
            "volumeMounts": ([{"name": "models", "mountPath": MODELS_DIR, "readOnly": True}] if init else [])
            + [{"name": "shm", "mountPath": SHM}, *writable],
        }
        containers.append(container)
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 60,
    }
    if init:
        pod["initContainers"] = [
            {
                "name": f"fetch-{i + 1}",
                "image": image,
                "imagePullPolicy": "Always",
                "command": FETCH_COMMAND,
                "args": ["--artifact-uri", f"models:/{ref.model}/{ref.version}", "--dst-path", ref.path],
                "env": [{"name": "HOME", "value": HOME}],
                "envFrom": [
                    {"configMapRef": {"name": MLFLOW_CONFIG}},
                    {"secretRef": {"name": MLFLOW_CONFIG, "optional": True}},
                ],
                "resources": {
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                    "limits": {"cpu": "500m", "memory": "1Gi"},
                },
                "securityContext": hardened,
                "volumeMounts": [{"name": "models", "mountPath": MODELS_DIR}, *writable],
            }
            for i, ref in enumerate(dict.fromkeys(track.refs()))
        ]
    pod["containers"] = containers
    if res.gpu:
        pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    models_dir: dict[str, Any] = {"sizeLimit": mib(model_mib)} if model_mib else {}
    pod["volumes"] = ([{"name": "models", "emptyDir": models_dir}] if init else []) + [
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": mib(TMP_MIB)}},
        {"name": "home", "emptyDir": {"sizeLimit": mib(HOME_MIB)}},
    ]
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


def network_policy(dep: Deployment, count: int) -> dict[str, Any]:
    """Ingress to the deployment's pods only on their server ports (egress stays open: MLflow and its store)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(dep.name, labels(dep)),
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": dep.name}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": p, "protocol": "TCP"} for _, p in _ports(dep, count)]}],
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


def route_target(pins: PinsFile, dep: Deployment) -> tuple[tuple[str, ...], str]:
    """(hostnames, path prefix) the deployment is reached at through its environment's Gateway.

    Default: `<deployment>.<domain>` for each of the environment's `hostnames` (its domains), at `/`;
    without hostnames, the path prefix `/<deployment>` (rewritten to `/`). `route:` overrides either:
    `route.hostnames` replaces the hostnames, `route.path` serves under that prefix on the
    environment's hostnames (or the route's). `()` hostnames: any hostname of the Gateway's listener.
    """
    env = pins.environments[dep.environment]
    own = dep.route or Route()
    if own.hostnames:
        hosts = own.hostnames
    elif own.path or not env.hostnames:
        hosts = env.hostnames
    else:
        hosts = tuple(f"{dep.name}.{h.removeprefix('*.')}" for h in env.hostnames)
    return hosts, own.path or ("/" if hosts else f"/{dep.name}")


def _hosts_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether some request hostname matches both lists (empty: any hostname; `*.d` any name below d)."""
    if not a or not b:
        return True

    def meet(x: str, y: str) -> bool:
        if x.startswith("*.") and y.startswith("*."):
            return x.endswith(y[1:]) or y.endswith(x[1:])
        if x.startswith("*."):
            return y.endswith(x[1:])
        if y.startswith("*."):
            return x.endswith(y[1:])
        return x == y

    return any(meet(x, y) for x in a for y in b)


def _paths_overlap(a: str, b: str) -> bool:
    """Whether some path matches both PathPrefix values (prefixes match whole segments)."""
    sa, sb = [p for p in a.split("/") if p], [p for p in b.split("/") if p]
    n = min(len(sa), len(sb))
    return sa[:n] == sb[:n]


def _route_conflicts(pins: PinsFile) -> list[Problem]:
    """Two HTTPRoutes on one Gateway that match the same requests: Gateway API would give them all to one.

    Routes are bucketed by gateway and first path segment: only routes in one bucket, or under `/`, can meet.
    """
    problems: list[Problem] = []
    buckets: dict[tuple[str, str], list[tuple[Deployment, tuple[str, ...], str]]] = {}
    for dep in pins.deployments.values():
        env = pins.environments.get(dep.environment)
        if not env or not env.gateway:
            continue
        hosts, path = route_target(pins, dep)
        first = next((p for p in path.split("/") if p), "")
        if first:
            others = buckets.get((env.gateway, first), []) + buckets.get((env.gateway, ""), [])
        else:
            others = [o for (gw, _), group in buckets.items() if gw == env.gateway for o in group]
        for other, other_hosts, other_path in sorted(others, key=lambda o: o[0].line):
            if _hosts_overlap(hosts, other_hosts) and _paths_overlap(path, other_path):
                where = lambda h, p: f"{', '.join(h) or 'any hostname'} {p}"  # noqa: E731
                problems.append(
                    Problem(
                        pins.path,
                        (dep.route.line if dep.route else 0) or dep.line,
                        f"deployments '{other.name}' (line {other.line}) and '{dep.name}' would match the same "
                        f"requests on gateway {env.gateway} ({where(other_hosts, other_path)} and "
                        f"{where(hosts, path)}): Gateway API gives a tie to the oldest route, so one of them "
                        "would receive no traffic",
                        f"give '{dep.name}' its own 'route: {{hostnames: [HOST]}}' or 'route: {{path: /PREFIX}}', "
                        "or give the environment 'hostnames' so each deployment gets '<deployment>.<hostname>'",
                    )
                )
        buckets.setdefault((env.gateway, first), []).append((dep, hosts, path))
    return problems


def httproute(pins: PinsFile, dep: Deployment, ts: tuple[Track, ...]) -> dict[str, Any] | None:
    env = pins.environments[dep.environment]
    if not env.gateway:
        return None
    gw_ns, _, gw_name = env.gateway.partition("/")
    hosts, prefix = route_target(pins, dep)
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
        # Several vLLM processes in one pod: each is reached under <prefix>/<its first served name>/.
        match = prefix.rstrip("/") + (f"/{ts[0].servers[i].served()[0]}/" if len(ts[0].servers) > 1 else "")
        if match:
            rewrite = {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
            }
            rule = {"matches": [{"path": {"type": "PathPrefix", "value": match}}], **rule}
            rule["filters"] = [rewrite, *rule.get("filters", [])]
        rules.append(rule)
    spec: dict[str, Any] = {
        "parentRefs": [{"group": GATEWAY_GROUP, "kind": "Gateway", "namespace": gw_ns, "name": gw_name}]
    }
    if hosts:
        spec["hostnames"] = list(hosts)
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


def objects(
    pins: PinsFile,
    lock: ImageLock,
    dockerfile: bytes,
    dep: Deployment,
    locked: Locked | None = None,
) -> list[dict[str, Any]]:
    """Every object of one deployment, without a namespace (the environment overlay sets it).

    `locked`: model_pins.lock's artefact sizes (the model volume's size) and layouts (what each runtime loads).
    """
    ts = tracks(pins, dep)
    count = len(ts[0].servers)
    out = []
    for t in ts:
        llm = dep.artifacts == "image" or any(layout.runtime(pins.models[s.base.model].kind) == layout.VLLM
                                              for s in t.servers)  # fmt: skip
        image = image_for(pins, lock, dockerfile, dep, t) if llm else classic_image(pins, dep, lock)
        obj = deployment(pins, dep, t, image, locked, lock)
        note = CLASSIC_NOTE if pins.images.classic else CLASSIC_BUILT
        obj["metadata"]["annotations"]["modelpins.io/image"] = image_note(image) if llm else note
        out.append(obj)
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
    out.append(network_policy(dep, count))
    route = httproute(pins, dep, ts)
    if route:
        out.append(route)
    return out


def namespace(pins: PinsFile, env_name: str) -> dict[str, Any]:
    env = pins.environments[env_name]
    lbls = {"app.kubernetes.io/managed-by": "modelpins", "modelpins.io/environment": env_name}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.namespace, "labels": lbls}}


def mlflow_config(pins: PinsFile, env_name: str) -> dict[str, Any] | None:
    """ConfigMap modelpins-mlflow: where the environment's pods find MLflow (None: the environment names none)."""
    env = pins.environments[env_name]
    if not env.tracking_uri:
        return None
    lbls = {"app.kubernetes.io/managed-by": "modelpins", "modelpins.io/environment": env_name}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": MLFLOW_CONFIG, "labels": lbls},
        "data": {"MLFLOW_TRACKING_URI": env.tracking_uri},
    }


def environment_objects(pins: PinsFile, env_name: str) -> list[dict[str, Any]]:
    """What an environment's overlay holds besides its deployments: the namespace and the MLflow ConfigMap."""
    config = mlflow_config(pins, env_name)
    return [namespace(pins, env_name), *([config] if config else [])]


# -- files -------------------------------------------------------------------------------------


def file_name(obj: dict[str, Any]) -> str:
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def render(
    pins: PinsFile, lock: ImageLock, dockerfile: bytes, locked: Locked | None = None, progress: Step = noop
) -> dict[str, bytes]:
    """{path relative to the manifests dir: bytes}, sorted by path."""
    check(pins)
    files: dict[str, bytes] = {}
    for dep in pins.deployments.values():
        objs = objects(pins, lock, dockerfile, dep, locked)
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
        for obj in objects(pins, lock, dockerfile, pins.deployments[name], locked):
            out.append({**obj, "metadata": {**obj["metadata"], "namespace": env.namespace}})
    return out
