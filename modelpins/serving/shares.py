"""What each container of a pod gets: `resources` are per pod, split between the pod's server processes. Pure.

| resource | split                                                                                   |
| -------- | --------------------------------------------------------------------------------------- |
| gpu      | between the vLLM processes only, evenly (a classic model in the same pod gets none);    |
|          | between every container when the pod runs no vLLM. Default: 1 per vLLM process (times   |
|          | `tensor_parallel_size`), 0 without vLLM. A count that does not divide evenly is refused  |
|          | by checks (so none is lost to rounding here)                                            |
| cpu      | evenly, in millicores (rounded down); one container gets the value as written           |
| memory   | evenly, in MiB (rounded down); one container gets the value as written                  |
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from modelpins import layout
from modelpins.pins import Deployment, PinsFile
from modelpins.serving.tracks import Server, Track, tracks

SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def quantity(text: str) -> Decimal:
    """The value of a Kubernetes quantity ('16Gi', '500m', '1e3')."""
    for suffix in sorted(SUFFIX, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * SUFFIX[suffix]
    return Decimal(text)  # a plain number, or one with a decimal exponent ('1e3')


@dataclass(frozen=True)
class Share:
    cpu: str
    memory: str
    gpu: int


def is_vllm(pins: PinsFile, server: Server) -> bool:
    return layout.runtime(pins.models[server.base.model].kind) == layout.VLLM


def vllm_processes(pins: PinsFile, dep: Deployment) -> int:
    """The most vLLM processes one pod of the deployment runs (its tracks serve the same names, so the same)."""
    return max(sum(is_vllm(pins, s) for s in t.servers) for t in tracks(pins, dep))


def pod_gpus(pins: PinsFile, dep: Deployment) -> int:
    """The pod's GPUs: `resources.gpu`, or 1 per vLLM process (times `tensor_parallel_size`)."""
    if dep.resources.gpu is not None:
        return dep.resources.gpu
    return vllm_processes(pins, dep) * (dep.tensor_parallel_size or 1)


def tensor_parallel(pins: PinsFile, dep: Deployment) -> int:
    """GPUs each vLLM process shards its model over: `tensor_parallel_size`, or its share of the pod's GPUs."""
    if dep.tensor_parallel_size:
        return dep.tensor_parallel_size
    n = vllm_processes(pins, dep)
    return max(1, pod_gpus(pins, dep) // n) if n else 1


def shares(pins: PinsFile, dep: Deployment, track: Track) -> list[Share]:
    """Each container's part of the pod's resources, in the order of `track.servers`."""
    res, servers = dep.resources, track.servers
    n = len(servers)
    gpus = pod_gpus(pins, dep)
    vllm = [is_vllm(pins, s) for s in servers]
    takers = vllm if any(vllm) else [True] * n
    per_gpu = gpus // sum(takers)
    if n == 1:
        return [Share(res.cpu, res.memory, per_gpu)]
    millicores = math.floor(quantity(res.cpu) * 1000 / n)
    mebibytes = math.floor(quantity(res.memory) / SUFFIX["Mi"] / n)
    return [Share(f"{millicores}m", f"{mebibytes}Mi", per_gpu if take else 0) for take in takers]
