"""Lineage of a pinned version: its run, params, dataset, code commit, and base or teacher model.

Read from the version's run in MLflow: the dataset from params `dataset` / `dataset_hash`
(or `dataset_digest`) or the run's dataset inputs; the code from tag
`mlflow.source.git.commit` or param `code_commit`; the base model from params
`base_model` / `base_model_version` or the pins file's `base:`; a distillation teacher from
`teacher_model` / `teacher_model_version`. Two requests per version in the chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelpins.crossenv import source_of
from modelpins.errors import InvalidInput
from modelpins.escape import terminal
from modelpins.pins import PinsFile
from modelpins.registry import VersionInfo
from modelpins.text import did_you_mean

MAX_DEPTH = 8


class Reads(Protocol):
    def version(self, model: str, version: int) -> VersionInfo | None: ...
    def run(self, run_id: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Dataset:
    name: str
    digest: str = ""
    source: str = ""


@dataclass
class Node:
    model: str
    version: int
    relation: str = ""  # "" for the version asked about, else "base" or "teacher"
    pinned_as: str = ""  # model@alias in the pins file, when pinned
    run_id: str = ""
    run_name: str = ""
    run_status: str = ""
    source: str = ""
    description: str = ""
    created_ms: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    datasets: list[Dataset] = field(default_factory=list)
    code_commit: str = ""
    code_repo: str = ""
    parents: list[Node] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "relation": self.relation or None,
            "pinned_as": self.pinned_as or None,
            "run_id": self.run_id or None,
            "source": self.source,
            "params": self.params,
            "metrics": self.metrics,
            "datasets": [d.__dict__ for d in self.datasets],
            "code_commit": self.code_commit or None,
            "code_repo": self.code_repo or None,
            "parents": [p.as_json() for p in self.parents],
            "warnings": self.warnings,
        }


def resolve(pins: PinsFile, model: str, alias: str) -> int:
    m = pins.models.get(model)
    if m is None or alias not in m.aliases:
        pinned = ", ".join(f"{n}@{a}" for n, p in pins.models.items() for a in p.aliases)
        hint = did_you_mean(f"{model}@{alias}", (f"{n}@{a}" for n, p in pins.models.items() for a in p.aliases))
        raise InvalidInput(f"{model}@{alias} is not pinned in {pins.path}{hint or '; pinned: ' + (pinned or '(none)')}")
    return m.aliases[alias].version


def lineage(
    pins: PinsFile,
    registry: Reads,
    model: str,
    version: int,
    relation: str = "",
    depth: int = 0,
    registries: Mapping[str, Reads] | None = None,
) -> Node:
    """The chain from `model` v`version`: a copy made across environments leads to its source version
    (read from the registry its provenance names, among `registries` by public URL), then to its run."""
    info = registry.version(model, version)
    if info is None:
        raise InvalidInput(f"version {version} of '{model}' does not exist in MLflow")
    node = Node(model, version, relation, pinned_as=_pinned_as(pins, model, version), source=info.source)
    node.description, node.created_ms, node.tags, node.run_id = (
        info.description,
        info.created_ms,
        info.tags,
        info.run_id,
    )
    copied = source_of(info)
    there = (registries or {}).get(str(copied.get("registry"))) if copied else None
    runs = there or registry  # a copy across servers links the run in its source's server
    run = runs.run(info.run_id) if info.run_id else None
    if run:
        _read_run(node, run)
    elif info.run_id:
        node.warnings.append(f"run {info.run_id} no longer exists in MLflow")
    if depth >= MAX_DEPTH:
        node.warnings.append(f"lineage deeper than {MAX_DEPTH} levels; stopped here")
        return node
    if copied:
        if there is None:
            node.warnings.append(f"copied from {copied.get('registry')}, a registry this command does not reach")
        else:
            src_model, src_version = str(copied.get("model")), int(copied.get("version", 0))
            node.parents.append(lineage(pins, there, src_model, src_version, "copy of", depth + 1, registries))
    for rel, (parent, parent_version) in _parents(pins, node).items():
        if parent_version is None:
            node.warnings.append(f"{rel} '{parent}' has no version recorded (log {rel}_model_version)")
            continue
        node.parents.append(lineage(pins, registry, parent, parent_version, rel, depth + 1, registries))
    return node


def _read_run(node: Node, run: Mapping[str, Any]) -> None:
    info, data = run.get("info", {}), run.get("data", {})
    node.run_name, node.run_status = info.get("run_name", ""), info.get("status", "")
    node.params = {p["key"]: p.get("value", "") for p in data.get("params", [])}
    node.metrics = {m["key"]: float(m["value"]) for m in data.get("metrics", [])}
    tags = {t["key"]: t.get("value", "") for t in data.get("tags", [])}
    node.code_commit = tags.get("mlflow.source.git.commit") or node.params.get("code_commit", "")
    node.code_repo = tags.get("mlflow.source.git.repoURL", "")
    if node.params.get("dataset"):
        digest = node.params.get("dataset_hash") or node.params.get("dataset_digest", "")
        node.datasets.append(Dataset(node.params["dataset"], digest, node.params.get("dataset_source", "")))
    for item in run.get("inputs", {}).get("dataset_inputs", []):
        d = item.get("dataset", {})
        node.datasets.append(Dataset(d.get("name", ""), d.get("digest", ""), d.get("source", "")))


def _pinned_as(pins: PinsFile, model: str, version: int) -> str:
    m = pins.models.get(model)
    aliases = [a for a, p in m.aliases.items() if p.version == version] if m else []
    return ", ".join(f"{model}@{a}" for a in aliases)


def _parents(pins: PinsFile, node: Node) -> dict[str, tuple[str, int | None]]:
    out: dict[str, tuple[str, int | None]] = {}
    for rel in ("base", "teacher"):
        name = node.params.get(f"{rel}_model")
        if name:
            raw = node.params.get(f"{rel}_model_version", "")
            out[rel] = (name, int(raw) if raw.isdigit() else None)
    ref = pins.models[node.model].base if node.model in pins.models else None
    if ref is not None and ref.model in pins.models and ref.alias in pins.models[ref.model].aliases:
        served = pins.models[ref.model].aliases[ref.alias].version
        logged = out.get("base")
        if logged is None:
            out["base"] = (ref.model, served)
        elif logged != (ref.model, served):
            node.warnings.append(
                f"trained on {logged[0]} version {logged[1]}, but the pins file serves it with {ref} = version {served}"
            )
    return out


def render(node: Node, indent: str = "") -> str:
    """The chain as indented text; every value from the registry escaped for the terminal (one line each)."""
    head = f"{node.model} version {node.version}"
    if node.pinned_as:
        head += f"  ({node.pinned_as})"
    lines = [indent + (f"{node.relation}: " if node.relation else "") + terminal(head)]
    pad = indent + "  "
    run = f"{node.run_id} ({node.run_name}, {node.run_status})" if node.run_name else node.run_id
    rows = [("run", run or "-"), ("source", node.source)]
    rows += [("dataset", " ".join(x for x in (d.name, d.digest, d.source) if x)) for d in node.datasets]
    if not node.datasets:
        rows.append(("dataset", "- (log params dataset/dataset_hash or mlflow.log_input)"))
    rows.append(("code", " ".join(x for x in (node.code_commit, node.code_repo) if x) or "-"))
    if node.params:
        rows.append(("params", ", ".join(f"{k}={v}" for k, v in sorted(node.params.items()))))
    lines += [f"{pad}{k:<8}  {terminal(v)}" for k, v in rows]
    lines += [f"{pad}warning   {terminal(w)}" for w in node.warnings]
    lines += [render(p, pad) for p in node.parents]
    return "\n".join(lines)
