"""Typed data back to YAML text: the canonical form of a pins file."""

from __future__ import annotations

import yaml

from modelpins.pins.data import (
    Analysis,
    Deployment,
    Environment,
    Gate,
    ModelPins,
    PinsFile,
    Resources,
    ServeEntry,
    Strategy,
)


def gate_fields(kind: str) -> tuple[str, ...]:
    """The fields a gate of `kind` takes in the file, besides kind and name (from its schema)."""
    from modelpins.pins.gates import GATE_SPECS

    spec = next(s for s in GATE_SPECS if s.model_fields["kind"].annotation.__args__ == (kind,))  # type: ignore[union-attr]
    return tuple(f for f in spec.model_fields if f not in ("kind", "name"))


def dump(pins: PinsFile) -> str:
    """The canonical YAML text of `pins`: every section, defaults left out, such that `loads(dump(p)) == p`.

    Comments and the original key order are not kept; edits of a file in git should keep its text instead.
    """
    top: dict[str, object] = {"version": pins.version}
    if pins.owners:
        top["owners"] = list(pins.owners)
    if pins.defaults:
        top["defaults"] = {"gates": _dump_gates(pins.defaults)}
    top["models"] = {name: _dump_model(m) for name, m in pins.models.items()}
    if pins.environments:
        top["environments"] = {name: _dump_environment(e) for name, e in pins.environments.items()}
    if pins.deployments:
        top["deployments"] = {name: _dump_deployment(d) for name, d in pins.deployments.items()}
    i = pins.images
    named = (("registry", i.registry), ("base", i.base), ("classic", i.classic), ("classic_base", i.classic_base))
    images = {k: v for k, v in named if v}
    if images:
        top["images"] = images
    return yaml.safe_dump(top, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def _dump_model(m: ModelPins) -> dict[str, object]:
    out: dict[str, object] = {}
    if m.kind != "model":
        out["kind"] = m.kind
    if m.base:
        out["base"] = str(m.base)
    if m.owners:
        out["owners"] = list(m.owners)
    for key in ("description", "limitations"):
        if getattr(m, key):
            out[key] = getattr(m, key)
    out["aliases"] = {a: p.version for a, p in m.aliases.items()}
    if m.waivers:
        out["waivers"] = {a: {"version": w.version, "reason": w.reason} for a, w in m.waivers.items()}
    if m.gates:
        out["gates"] = _dump_gates(m.gates)
    return out


def _dump_gates(table: dict[str, tuple[Gate, ...]]) -> dict[str, object]:
    return {alias: [_dump_gate(g) for g in gates] for alias, gates in table.items()}


def _dump_gate(g: Gate) -> dict[str, object]:
    out: dict[str, object] = {"kind": g.kind, "name": g.name}
    defaults = Gate(kind=g.kind, name=g.name)
    for key in gate_fields(g.kind):
        field_name = "max" if key == "max_ms" else key
        value = getattr(g, field_name)
        if value != getattr(defaults, field_name):
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _dump_environment(e: Environment) -> dict[str, object]:
    out: dict[str, object] = {"namespace": e.namespace}
    if e.gateway:
        out["gateway"] = e.gateway
    if e.hostnames:
        out["hostnames"] = list(e.hostnames)
    if e.tracking_uri:
        out["tracking_uri"] = e.tracking_uri
    if e.pull_secret:
        out["pull_secret"] = e.pull_secret
    if e.service_account:
        out["service_account"] = e.service_account
    return out


def _dump_serve(entry: ServeEntry) -> object:
    if entry.adapter is None and entry.prompts is None and entry.served_name is None:
        return str(entry.model)
    out: dict[str, object] = {"model": str(entry.model)}
    if entry.adapter:
        out["adapter"] = str(entry.adapter)
    if entry.prompts:
        out["prompts"] = str(entry.prompts)
    if entry.served_name:
        out["name"] = entry.served_name
    return out


def _dump_deployment(d: Deployment) -> dict[str, object]:
    out: dict[str, object] = {"environment": d.environment, "serve": [_dump_serve(e) for e in d.serve]}
    if d.strategy != Strategy():
        out["strategy"] = _dump_strategy(d.strategy)
    if d.replicas != 1:
        out["replicas"] = d.replicas
    if d.resources != Resources():
        res = {"gpu": d.resources.gpu, "memory": d.resources.memory, "cpu": d.resources.cpu}
        out["resources"] = {k: v for k, v in res.items() if v is not None}
    if d.vllm_args:
        out["vllm_args"] = list(d.vllm_args)
    if d.tensor_parallel_size is not None:
        out["tensor_parallel_size"] = d.tensor_parallel_size
    if d.artifacts != "init":
        out["artifacts"] = d.artifacts
    if d.port != 8000:
        out["port"] = d.port
    if d.route:
        out["route"] = {
            key: value for key, value in (("hostnames", list(d.route.hostnames)), ("path", d.route.path)) if value
        }
    return out


def _dump_strategy(s: Strategy) -> dict[str, object]:
    strategy: dict[str, object] = {"type": s.type}
    if s.candidate:
        strategy["candidate"] = [_dump_serve(e) for e in s.candidate]
    if s.type in ("canary", "ab"):
        strategy["weight"] = s.weight
    if s.steps:
        times = s.min_times or (0.0,) * len(s.steps)
        strategy["steps"] = [
            {"weight": w, "min_time": f"{int(t)}s"} if t else w for w, t in zip(s.steps, times, strict=True)
        ]
    if s.analysis:
        strategy["analysis"] = _dump_analysis(s.analysis)
    if s.type == "blue-green" and s.active != "blue":
        strategy["active"] = s.active
    if s.affinity:
        strategy["affinity"] = {s.affinity[0]: s.affinity[1]}
    if s.engine != "modelpins":
        strategy["engine"] = s.engine
    return strategy


def _dump_analysis(a: Analysis) -> dict[str, object]:
    queries: dict[str, object] = {}
    for q in a.queries:
        entry: dict[str, object] = {"query": q.query, "threshold": q.threshold, "direction": q.direction}
        if q.tolerance is not None:
            entry["tolerance"] = q.tolerance
        queries[q.name] = entry
    return {"window": a.window, "min_requests": a.min_requests, "queries": queries}
