"""What each deployment serves: tracks of vLLM (or MLflow) servers, resolved to the pinned versions. Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from modelpins import layout
from modelpins.layout import Locked
from modelpins.pins import Deployment, ModelRef, PinsFile, Route, ServeEntry

MODELS_DIR = "/models"
MAX_NAME = 63 - len("-candidate")
MLFLOW_CONFIG = "modelpins-mlflow"  # ConfigMap (MLFLOW_TRACKING_URI) and optional Secret (token) per namespace
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


def resolve(pins: PinsFile, ref: ModelRef) -> Pinned:
    return Pinned(ref.model, ref.alias, pins.models[ref.model].aliases[ref.alias].version)


def served_name(entry: ServeEntry) -> str:
    return entry.served_name or (entry.adapter.model if entry.adapter else entry.model.model)


def loads(pins: PinsFile, ref: Pinned, locked: Locked | None) -> str:
    """The path the runtime loads for `ref`: inside its download, where model_pins.lock (or MLflow's layout) says."""
    found = locked.layouts.get((ref.model, ref.version)) if locked else None
    return layout.join(ref.path, (found or layout.DEFAULTS[pins.models[ref.model].kind]).path)


LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the values vLLM's --max-lora-rank accepts


def max_lora_rank(pins: PinsFile, server: Server, locked: Locked | None) -> int:
    """The smallest rank vLLM accepts that holds every adapter's `r` (model_pins.lock); 0: none recorded."""
    found = [locked.layouts.get((p.model, p.version)) if locked else None for _, p in server.adapters]
    largest = max((f.rank for f in found if f), default=0)
    return next((r for r in LORA_RANKS if r >= largest), largest) if largest else 0


def server_command(
    pins: PinsFile, server: Server, port: int, locked: Locked | None, tensor_parallel: int = 1
) -> tuple[list[str], list[str]]:
    """(command, args) of one server: `vllm serve` for LLMs, `mlflow models serve` for classic models."""
    base = server.base
    if layout.runtime(pins.models[base.model].kind) == layout.MLFLOW:
        args = ["-m", loads(pins, base, locked), "--host", "0.0.0.0", "--port", str(port)]  # noqa: S104
        return MLFLOW_COMMAND, [*args, "--env-manager", "local", "--workers", "1"]
    args = [loads(pins, base, locked), "--served-model-name", *server.names, "--port", str(port)]
    args += ["--tensor-parallel-size", str(tensor_parallel)]
    found = locked.layouts.get((base.model, base.version)) if locked else None
    tokenizer = (found or layout.DEFAULTS["base"]).tokenizer
    if tokenizer:
        args += ["--tokenizer", layout.join(base.path, tokenizer)]
    if server.adapters:
        args += ["--enable-lora", "--lora-modules", *(f"{n}={loads(pins, p, locked)}" for n, p in server.adapters)]
        args += ["--max-loras", str(len(server.adapters))]
        rank = max_lora_rank(pins, server, locked)
        if rank:
            args += ["--max-lora-rank", str(rank)]
    if server.prompts:
        args += ["--chat-template", loads(pins, server.prompts[0][1], locked)]
    return VLLM_COMMAND, args


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
    if s.type == "shadow":  # the candidate receives a mirror of all traffic
        return (
            Track("stable", f"{dep.name}-stable", None, stable, dep.replicas),
            Track("candidate", f"{dep.name}-candidate", None, candidate, dep.replicas),
        )
    stable_pods, candidate_pods = split_replicas(dep.replicas, s.weight)
    return (
        Track("stable", f"{dep.name}-stable", None, stable, stable_pods),
        Track("candidate", f"{dep.name}-candidate", None, candidate, candidate_pods),
    )


def split_replicas(replicas: int, weight: int) -> tuple[int, int]:
    """(stable, candidate) pods of a weighted split: each track gets its weight's share of `replicas` (the pods
    that carry all traffic), rounded up, at least 1; so a pod of either track carries at most one pod's share more
    than an exact split would give it."""
    return max(1, math.ceil(replicas * (100 - weight) / 100)), max(1, math.ceil(replicas * weight / 100))


def track_names(t: Track) -> str:
    return ", ".join("+".join(s.served()) for s in t.servers)


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
