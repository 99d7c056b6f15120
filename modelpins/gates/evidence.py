"""The record gates leave on the candidate version, and the check `apply` makes against it.

Tag `modelpins.gates.<alias>` on the candidate version holds compact JSON:
{"passed", "version", "digest", "baselines": {alias: version|null}, "commit", "at",
"results": [{"name", "kind", "value", "threshold", "passed"}], "canary": {...} when a canary proposed the move}.

`digest` hashes the gate definitions for that model and alias (and the bytes of any
script they run from the repository), so evidence from other gates does not count.
The commit is informational: a merge commit differs from the PR's head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelpins.audit.records import audit_entries
from modelpins.gates import AliasCheck
from modelpins.pins import Gate
from modelpins.redact import redact
from modelpins.tags import GATES_PREFIX

if TYPE_CHECKING:
    from modelpins.api import Plan
    from modelpins.plan import Change

TAG_PREFIX = GATES_PREFIX
SIGNER_FIELDS = ("public_key", "certificate_chain", "identity", "issuer", "registry_credentials")
MAX_TAG = 4900  # MLflow caps tag values at 5000 characters


def tag_key(alias: str) -> str:
    return TAG_PREFIX + alias


def digest(gates: tuple[Gate, ...], base_dir: Path) -> str:
    """sha256 over the gate definitions (lines excluded) and the files their commands name."""
    h = hashlib.sha256()
    for gate in gates:
        spec = asdict(gate)
        spec.pop("line")
        for key in SIGNER_FIELDS:  # unset on other kinds: left out, so their digests stay as they were
            if not spec[key]:
                spec.pop(key)
        h.update(json.dumps(spec, sort_keys=True).encode())
        for arg in gate.run:
            path = base_dir / arg
            if "/" in arg and path.is_file():
                h.update(b"\0" + arg.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        for name in [n for n in (gate.public_key, *gate.certificate_chain) if n]:  # a swapped key is a gate change
            path = base_dir / name
            if path.is_file():
                h.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + h.hexdigest()[:32]


def record(check: AliasCheck, commit: str | None, at: str, canary: dict[str, object] | None = None) -> str:
    """The tag value for one alias check, kept under MLflow's size limit; with the canary's evidence when
    `modelpins canary advance` proposed this move (its queries' values, window and requests on both tracks)."""
    results = [
        {"name": r.name, "kind": r.kind, "value": r.value, "threshold": r.threshold, "passed": r.passed}
        for r in check.results
    ]
    body: dict[str, object] = {
        "passed": check.passed,
        "version": check.after,
        "digest": check.digest,
        "baselines": dict(check.baselines),
        "commit": commit,
        "at": at,
        "results": results,
    }
    if canary:
        body["canary"] = canary
    text = _dump(body)
    if len(text) > MAX_TAG and canary:
        body["canary"] = {k: v for k, v in canary.items() if k != "readings"}
        text = _dump(body)
    if len(text) > MAX_TAG:
        body["results"] = [r for r in results if not r["passed"]][:20]
        body["truncated"] = len(results)
        text = _dump(body)
    if len(text) > MAX_TAG:
        body["results"] = []
        text = _dump(body)
    return text


def _dump(body: dict[str, object]) -> str:
    return redact(json.dumps(body, sort_keys=True, separators=(",", ":")))  # a script's threshold is its own text


@dataclass(frozen=True)
class Refusal:
    model: str
    alias: str
    version: int
    reason: str

    def __str__(self) -> str:
        return f"{self.model}@{self.alias} -> v{self.version}: {self.reason}"


def verify(
    model: str,
    alias: str,
    version: int,
    tags: dict[str, str],
    gates: tuple[Gate, ...],
    base_dir: Path,
    actual: dict[str, int],
) -> Refusal | None:
    """None when `tags` hold passing evidence for these gates, else why not."""
    if not gates:
        return None

    def refuse(reason: str) -> Refusal:
        return Refusal(model, alias, version, reason)

    raw = tags.get(tag_key(alias))
    if raw is None:
        return refuse(f"no gate results for '{alias}' on this version")
    try:
        ev = json.loads(raw)
    except ValueError:
        return refuse(f"tag {tag_key(alias)} is not readable JSON")
    if not isinstance(ev, dict):
        return refuse(f"tag {tag_key(alias)} is not a gate record")
    if ev.get("digest") != digest(gates, base_dir):
        return refuse("the gates in the pins file changed since they last ran")
    if ev.get("passed") is not True:
        failed = [str(r.get("name")) for r in ev.get("results", []) if isinstance(r, dict) and not r.get("passed")]
        return refuse(f"gates failed ({', '.join(failed) or 'see the gate report'})")
    baselines = ev.get("baselines") or {}
    for against, was in sorted(baselines.items()):
        now = actual.get(against)
        if now != was:
            shown = lambda v: "unset" if v is None else f"v{v}"  # noqa: E731
            return refuse(f"baseline {model}@{against} is {shown(now)} now, the gates compared with {shown(was)}")
    return None


def unproven(plan: Plan) -> list[Refusal]:
    """Set/move changes of a plan whose gates have no passing, current evidence on the target version.

    Uses the version tags the plan already read: no extra registry request.
    """
    base_dir = Path(plan.pins.path).resolve().parent
    out = []
    for c in plan.changes:
        if c.after is None or c.model not in plan.pins.models:
            continue
        info = plan.versions.get((c.model, c.after))
        tags = dict(info.tags) if info else {}
        gates = plan.pins.gates_for(c.model, c.alias)
        if gates and plan.pins.models[c.model].waiver_for(c.alias, c.after):
            refusal = _unserved(c.model, c.alias, c.after, tags)
        else:
            refusal = verify(c.model, c.alias, c.after, tags, gates, base_dir, plan.actual.get(c.model, {}))
        if refusal:
            out.append(refusal)
    return out


def _unserved(model: str, alias: str, version: int, tags: dict[str, str]) -> Refusal | None:
    """A waiver holds only for a version that served `alias` before: its own audit tag must say so."""
    if any(version in (record.get("to"), record.get("from")) for _, record in audit_entries(tags, alias)):
        return None
    return Refusal(model, alias, version, f"gates are waived, but v{version} never served '{alias}' (no audit record)")


def audit_fields(plan: Plan, refused: list[Refusal]) -> Callable[[Change], dict[str, object]]:
    """For apply's audit record: "gates": "passed", "waived" (with the reason) or "skipped" on each gated move."""
    skipped = {(r.model, r.alias) for r in refused}

    def fields(c: Change) -> dict[str, object]:
        if c.after is None or c.model not in plan.pins.models or not plan.pins.gates_for(c.model, c.alias):
            return {}
        if (c.model, c.alias) in skipped:
            return {"gates": "skipped"}
        waiver = plan.pins.models[c.model].waiver_for(c.alias, c.after)
        return {"gates": "waived", "waiver": waiver.reason} if waiver else {"gates": "passed"}

    return fields
