"""The Kubernetes objects of one deployment and of one environment, as dicts. Pure."""

from __future__ import annotations

import math
from typing import Any

from modelpins import layout, tags
from modelpins.errors import InvalidInput
from modelpins.layout import Locked
from modelpins.pins import Deployment, PinsFile
from modelpins.serving import argo
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.image_refs import (
    CLASSIC_BUILT,
    CLASSIC_NOTE,
    CLASSIC_UNPUSHED,
    classic_image,
    image_for,
    image_note,
)
from modelpins.serving.shares import is_vllm, pod_gpus, shares, tensor_parallel
from modelpins.serving.tracks import (
    MLFLOW_CONFIG,
    MODELS_DIR,
    Pinned,
    Track,
    loads,
    route_target,
    server_command,
    tracks,
)

GATEWAY_GROUP = "gateway.networking.k8s.io"
STARTUP_SECONDS = 1800  # loading a large checkpoint onto GPUs can take many minutes
SHM = "/dev/shm"  # noqa: S108 - a memory-backed volume for vLLM's worker processes, not a temp file
UID = 10001  # deploy/Dockerfile's USER: a high UID no host account has
HOME = "/home/modelpins"  # an emptyDir: vLLM, Triton, torch.compile and Hugging Face write caches under $HOME
CACHE = f"{HOME}/.cache"
# UID 10001 has no passwd entry: USER makes getpass.getuser() (torch's default cache path) work without one,
# and every cache a runtime writes at import or start goes under the writable $HOME emptyDir.
RUNTIME_ENV = (
    ("HOME", HOME),
    ("USER", "modelpins"),
    ("XDG_CACHE_HOME", CACHE),
    ("HF_HOME", f"{CACHE}/huggingface"),
    ("TORCHINDUCTOR_CACHE_DIR", f"{CACHE}/torchinductor"),
    ("TRITON_CACHE_DIR", f"{CACHE}/triton"),
    ("VLLM_CACHE_ROOT", f"{CACHE}/vllm"),
    ("NUMBA_CACHE_DIR", f"{CACHE}/numba"),
    ("MPLCONFIGDIR", f"{CACHE}/matplotlib"),
)
PSA = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
TMP_MIB, HOME_MIB = 1024, 4096  # emptyDir size limits of /tmp and $HOME
# The init container downloads one version with MLflow's CLI, then fails unless the file its runtime loads is
# there: `mlflow artifacts download` exits 0 with an empty directory when the version's artefact location
# holds nothing the pod can read (an artifact root that is a path on the MLflow server's disk, not a store
# or `mlflow-artifacts:` proxy the pod reaches; deleted artefacts), and the server would then fail later with
# a puzzling error. The values arrive as positional parameters, never as shell text.
FETCH_SCRIPT = (
    'python3 -m mlflow artifacts download "$1" "$2" "$3" "$4" || exit 1; [ -e "$5" ] || { echo "modelpins: '
    "$2 downloaded to $4 holds no $5, which the server loads; fix: check that the artefact store of "
    'MLFLOW_TRACKING_URI is one this pod reaches (object storage, or mlflow server --serve-artifacts)" >&2; exit 1; }'
)
FETCH_COMMAND = ["sh", "-c", FETCH_SCRIPT, "fetch"]


def first_read(pins: PinsFile, ref: Pinned, locked: Locked | None) -> str:
    """The file the runtime reads first for `ref` (its MLmodel, config.json, ...): the init container checks it."""
    return layout.join(loads(pins, ref, locked), layout.LOADED[pins.models[ref.model].kind])


def labels(dep: Deployment, track: Track | None = None) -> dict[str, str]:
    out = {
        tags.NAME: dep.name,
        tags.INSTANCE: track.name if track else dep.name,
        tags.COMPONENT: "model-server",
        tags.PART_OF: dep.name,
        tags.MANAGED_BY: tags.MANAGER,
    }
    if track:
        primary = track.servers[0]
        out[tags.VERSION] = f"v{(primary.adapters[0][1] if primary.adapters else primary.base).version}"
        out[tags.TRACK] = track.key
        if track.color:
            out[tags.COLOR] = track.color
    return out


def track_annotations(track: Track) -> dict[str, str]:
    primary = track.servers[0].adapters[0][1] if track.servers[0].adapters else track.servers[0].base
    return {
        tags.MODEL: primary.model,
        tags.SERVED_VERSION: str(primary.version),
        tags.SERVES: ", ".join(str(r) for r in track.refs()),
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
    classic: str | None = None,
) -> dict[str, Any]:
    """The Deployment of one track. Restricted Pod Security: non-root UID, no capabilities, RuntimeDefault
    seccomp, read-only root filesystem with emptyDirs for /tmp, $HOME (caches) and the models."""
    init = dep.artifacts == "init"
    model_mib = model_volume_mib(dep, track, locked) if init else None
    scratch = TMP_MIB + HOME_MIB + (model_mib or 0)
    env_ = pins.environments[dep.environment]
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
    parts = shares(pins, dep, track)
    for (port_name, port), server, part in zip(_ports(dep, len(track.servers)), track.servers, parts, strict=True):
        kind = pins.models[server.base.model].kind
        command, args = server_command(pins, server, port, locked, tensor_parallel(pins, dep))
        if layout.runtime(kind) == layout.VLLM:
            args += list(dep.vllm_args)
        probe = {"httpGet": {"path": "/health", "port": port_name}}
        prefix = "vllm" if layout.runtime(kind) == layout.VLLM else "mlflow"
        container: dict[str, Any] = {
            "name": prefix if len(track.servers) == 1 else f"{prefix}-{len(containers) + 1}",
            # baked ('artifacts: image'): the image holds the models and the server; else each runtime's image
            "image": (classic or classic_image(pins, dep, lock))
            if init and layout.runtime(kind) == layout.MLFLOW
            else image,
            "imagePullPolicy": "Always",
            "command": command,
            "args": args,
        }
        env = [{"name": k, "value": v} for k, v in RUNTIME_ENV]
        first = not containers
        # `resources` are per pod: each container gets its share. Requests equal limits for CPU and memory
        # (the Guaranteed QoS class, last to be evicted); the pod's scratch space (emptyDirs) is requested once.
        requests: dict[str, Any] = {"cpu": part.cpu, "memory": part.memory}
        if first:
            requests["ephemeral-storage"] = mib(scratch)
        limits: dict[str, Any] = {"cpu": part.cpu, "memory": part.memory}
        if part.gpu:
            requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = part.gpu
        container |= {
            "env": env,
            "ports": [{"name": port_name, "containerPort": port, "protocol": "TCP"}],
            "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": STARTUP_SECONDS // 10},
            "readinessProbe": {**probe, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
            "livenessProbe": {**probe, "periodSeconds": 15, "timeoutSeconds": 5, "failureThreshold": 4},
            "resources": {"requests": requests, "limits": limits},
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
    if env_.service_account:
        pod["serviceAccountName"] = env_.service_account
    if env_.pull_secret:
        pod["imagePullSecrets"] = [{"name": env_.pull_secret}]
    if init:
        pod["initContainers"] = [
            {
                "name": f"fetch-{i + 1}",
                "image": image,
                "imagePullPolicy": "Always",
                "command": FETCH_COMMAND,
                "args": [
                    "--artifact-uri",
                    f"models:/{ref.model}/{ref.version}",
                    "--dst-path",
                    ref.path,
                    first_read(pins, ref, locked),
                ],
                "env": [{"name": k, "value": v} for k, v in RUNTIME_ENV],
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
    if pod_gpus(pins, dep):
        pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    models_dir: dict[str, Any] = {"sizeLimit": mib(model_mib)} if model_mib else {}
    pod["volumes"] = ([{"name": "models", "emptyDir": models_dir}] if init else []) + [
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": mib(TMP_MIB)}},
        {"name": "home", "emptyDir": {"sizeLimit": mib(HOME_MIB)}},
    ]
    selector = {k: v for k, v in labels(dep, track).items() if k in (tags.NAME, tags.INSTANCE)}
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


def network_policy(pins: PinsFile, dep: Deployment, count: int) -> dict[str, Any]:
    """Ingress to the deployment's pods only on their server ports, and behind a Gateway only from the Gateway's
    namespace, so no client reaches a track's Service around the Gateway's split (egress stays open: MLflow and
    its store)."""
    gateway = pins.environments[dep.environment].gateway
    rule: dict[str, Any] = {}
    if gateway:
        gw_ns = gateway.partition("/")[0]
        rule["from"] = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": gw_ns}}}]
    rule["ports"] = [{"port": p, "protocol": "TCP"} for _, p in _ports(dep, count)]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(dep.name, labels(dep)),
        "spec": {
            "podSelector": {"matchLabels": {tags.NAME: dep.name}},
            "policyTypes": ["Ingress"],
            "ingress": [rule],
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
            "selector": {"matchLabels": {tags.NAME: dep.name, tags.INSTANCE: track.name}},
        },
    }


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
            if s.affinity:  # Gateway API session persistence: a client stays on the track it first reached
                rule["sessionPersistence"] = {"sessionName": s.affinity[1], "type": s.affinity[0].capitalize()}
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
    annos = {tags.STRATEGY: s.type}
    if s.type in ("canary", "ab"):
        annos[tags.WEIGHT] = str(s.weight)
        if s.steps:
            annos[tags.STEPS] = ",".join(map(str, s.steps))
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
    classic_dockerfile: bytes | None = None,
) -> list[dict[str, Any]]:
    """Every object of one deployment, without a namespace (the environment overlay sets it).

    `locked`: model_pins.lock's artefact sizes (the model volume's size) and layouts (what each runtime loads).
    `classic_dockerfile`: deploy/Dockerfile.mlflow, which names MLflow's model server image before its first push.
    """
    ts = tracks(pins, dep)
    count = len(ts[0].servers)
    out = []
    for t in ts:
        llm = dep.artifacts == "image" or any(layout.runtime(pins.models[s.base.model].kind) == layout.VLLM
                                              for s in t.servers)  # fmt: skip
        serves_classic = dep.artifacts == "init" and not all(is_vllm(pins, s) for s in t.servers)
        classic = classic_image(pins, dep, lock, classic_dockerfile) if serves_classic else None
        image = image_for(pins, lock, dockerfile, dep, t) if llm else classic or ""
        obj = deployment(pins, dep, t, image, locked, lock, classic)
        note = CLASSIC_NOTE if pins.images.classic else CLASSIC_BUILT if "@sha256:" in image else CLASSIC_UNPUSHED
        obj["metadata"]["annotations"][tags.IMAGE] = image_note(image) if llm else note
        out.append(obj)
    base = {tags.NAME: dep.name}
    for t in ts:
        if len(ts) > 1:
            out.append(service(dep, t.name, {**base, tags.INSTANCE: t.name}, count, labels(dep, t)))
    if dep.strategy.type == "blue-green":
        active = {**base, tags.COLOR: dep.strategy.active}
        out.append(service(dep, dep.name, active, count, {**labels(dep), tags.COLOR: dep.strategy.active}))
    elif len(ts) == 1:
        out.append(service(dep, dep.name, {**base, tags.INSTANCE: dep.name}, count, labels(dep)))
    else:
        stable = {**base, tags.INSTANCE: ts[0].name}
        out.append(service(dep, dep.name, stable, count, labels(dep)))
    out += [pdb(dep, t) for t in ts if t.replicas > 1]  # with 1 pod, a budget can only block drains
    out.append(network_policy(pins, dep, count))
    route = httproute(pins, dep, ts)
    if route:
        out.append(route)
    if argo.uses_argo(dep):
        return argo.objects(dep, out, pins.environments[dep.environment].namespace)
    return out


def namespace(pins: PinsFile, env_name: str) -> dict[str, Any]:
    env = pins.environments[env_name]
    lbls = {tags.MANAGED_BY: tags.MANAGER, tags.ENVIRONMENT: env_name, **PSA}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.namespace, "labels": lbls}}


def mlflow_config(pins: PinsFile, env_name: str) -> dict[str, Any] | None:
    """ConfigMap modelpins-mlflow: where the environment's pods find MLflow (None: the environment names none)."""
    env = pins.environments[env_name]
    if not env.tracking_uri:
        return None
    lbls = {tags.MANAGED_BY: tags.MANAGER, tags.ENVIRONMENT: env_name}
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
