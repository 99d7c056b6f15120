"""The board as data: a pure function of the pins file, the registry reads and the time.

Rows are the file's models, columns their aliases. A cell holds the version the registry
serves (and the file's, when they differ: drift), when and by whom it was promoted (the
newest audit record of that move), the gate evidence on the version, and the deployments
that serve it with their strategy. A model's page adds the alias moves over time (every audit
record of every version: rollbacks marked), the gate history, lineage and card. `pending`
is the plan of the file against the registry, each move with the state of its gate evidence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelpins import api
from modelpins.audit import canary as canary_records
from modelpins.audit.records import audit_entries
from modelpins.audit.rollbacks import kind as rollback_kind
from modelpins.board.reads import Reads
from modelpins.board.views import (
    Board,
    Canary,
    Cell,
    DeploymentView,
    Evidence,
    ModelView,
    Move,
    Pending,
    Result,
    Serving,
    Track,
)
from modelpins.drift.registry import drift
from modelpins.gates import evidence
from modelpins.pins import PinsFile
from modelpins.plan import diff
from modelpins.provenance import card
from modelpins.redact import public_url
from modelpins.registry import VersionInfo
from modelpins.serving import tracks as serving_tracks


def build(
    pins: PinsFile, reads: Reads, tracking_uri: str, now: datetime, repo_url: str = "", ui_url: str = ""
) -> Board:
    """The board of `pins` against the registry as `reads` saw it at `now`.

    `repo_url`: https://github.com/OWNER/NAME, for pull-request links (else taken from the
    audit records' run URLs); `ui_url`: MLflow's UI, when it differs from `tracking_uri`.
    """
    ui = public_url(ui_url or tracking_uri)
    drifted = {(d.model, d.alias): d.kind for d in drift(pins, reads.actual)}
    serving = _serving(pins)
    by_model = _by_model(reads)
    models = []
    for name, m in pins.models.items():
        actual = reads.actual.get(name, {})
        moves = _moves(by_model.get(name, []), repo_url)
        cells = {}
        for alias in dict.fromkeys([*m.aliases, *sorted(actual)]):
            pin = m.aliases.get(alias)
            version = actual.get(alias)
            cells[alias] = _cell(
                pins, reads, ui, now, name, alias, version, pin.version if pin else None, moves, drifted, serving
            )
        view = ModelView(
            name, m.kind, m.owners or pins.owners, m.description, m.limitations, cells, moves,
            _gate_history(by_model.get(name, [])), registered=name in reads.actual,
        )  # fmt: skip
        for alias, cell in cells.items():
            node = reads.lineages.get((name, cell.version)) if cell.version is not None else None
            if node is not None:
                view.lineage[alias] = node
                view.cards[alias] = card.build(pins, alias, node, ui)
        models.append(view)
    columns = list(dict.fromkeys(a for v in models for a in v.cells))
    return Board(
        source=_shown_path(pins.path),
        generated=_iso(now),
        tracking_uri=ui,
        aliases=columns,
        models=models,
        deployments=[_deployment(pins, d) for d in pins.deployments.values()],
        pending=_pending(pins, reads),
        requests=reads.requests,
    )


def _cell(
    pins: PinsFile,
    reads: Reads,
    ui: str,
    now: datetime,
    model: str,
    alias: str,
    version: int | None,
    pinned: int | None,
    moves: list[Move],
    drifted: Mapping[tuple[str, str], str],
    serving: Mapping[tuple[str, str], list[Serving]],
) -> Cell:
    info = reads.versions.get((model, version)) if version is not None else None
    promotion = next((mv for mv in reversed(moves) if mv.alias == alias and mv.after == version), None)
    since = promotion.at if promotion else ""
    raw = info.tags.get(evidence.tag_key(alias)) if info else None
    return Cell(
        model=model,
        alias=alias,
        version=version,
        pinned=pinned,
        url=card.ui_url(ui, model, version) if version is not None and ui else "",
        drift=drifted.get((model, alias), ""),
        since=since,
        age=ago(_parse(since), now) if since else "",
        registered=_iso_ms(info.created_ms) if info and info.created_ms else "",
        promotion=promotion,
        evidence=_evidence(alias, version, raw) if raw is not None and version is not None else None,
        gated=model in pins.models and bool(pins.gates_for(model, alias)),
        serving=tuple(serving.get((model, alias), ())),
        canary=_canary(info.tags) if info else None,
    )


def _canary(tags: Mapping[str, str]) -> Canary | None:
    """The newest canary decision recorded on a version, if any."""
    found = canary_records.records(tags)
    if not found:
        return None
    r = found[-1]
    at = str((r.get("evidence") or {}).get("at", ""))
    return Canary(
        str(r.get("deployment") or ""), str(r.get("action") or ""), str(r.get("weight", "")),
        str(r.get("to_weight", "")), str(r.get("reason") or ""), at,
    )  # fmt: skip


def _by_model(reads: Reads) -> dict[str, list[tuple[int, VersionInfo]]]:
    """Each model's versions, in version order: read once, so the board is linear in the versions."""
    out: dict[str, list[tuple[int, VersionInfo]]] = {}
    for (name, number), info in sorted(reads.versions.items()):
        out.setdefault(name, []).append((number, info))
    return out


def _moves(versions: list[tuple[int, VersionInfo]], repo_url: str) -> list[Move]:
    """Every audit record on the model's versions, oldest first.

    A rollback is a move to an older version than the one it replaced ("older"), or one made
    through `modelpins rollback` ("command"): its record says so, by the `rollback` field apply
    writes for a move a rollback commit asked for, or the waiver `modelpins rollback --waive-gates`
    writes (modelpins.audit.rollbacks). A forward move back to a version the alias once held is
    not a rollback.
    """
    records = []
    for _, info in versions:
        records += [(str(r.get("at", "")), alias, r) for alias, r in audit_entries(info.tags)]
    out: list[Move] = []
    for at, alias, r in sorted(records, key=lambda x: (x[0], x[1])):
        before, after = _int(r.get("from")), _int(r.get("to"))
        pr = str(r.get("pr") or "")
        run_url = str(r.get("run_url") or "")
        base = repo_url.rstrip("/") or run_url.partition("/actions/runs/")[0]
        out.append(
            Move(
                alias, before, after, at,
                actor=str(r.get("actor") or ""),
                pr=pr,
                pr_url=f"{base}/pull/{pr}" if pr.isdigit() and base.startswith(("https://", "http://")) else "",
                commit=str(r.get("commit") or ""),
                run_url=run_url if run_url.startswith(("https://", "http://")) else "",
                gates=str(r.get("gates") or ""),
                reason=str(r.get("waiver") or r.get("reason") or ""),
                rollback=rollback_kind(r, before, after),
            )
        )  # fmt: skip
    return out


def _evidence(alias: str, version: int, raw: str) -> Evidence:
    try:
        ev = json.loads(raw)
    except ValueError:
        ev = None
    if not isinstance(ev, dict):
        return Evidence(alias, version, None)
    results = tuple(
        Result(
            str(r.get("name", "")), str(r.get("kind", "")), r.get("value"), r.get("threshold"), r.get("passed") is True
        )
        for r in ev.get("results", [])
        if isinstance(r, dict)
    )
    passed = ev.get("passed")
    return Evidence(
        alias, version, passed if isinstance(passed, bool) else None, str(ev.get("at") or ""),
        str(ev.get("commit") or ""), results,
    )  # fmt: skip


def _gate_history(versions: list[tuple[int, VersionInfo]]) -> list[Evidence]:
    out = []
    for number, info in versions:
        for key, raw in info.tags.items():
            if key.startswith(evidence.TAG_PREFIX):
                out.append(_evidence(key.removeprefix(evidence.TAG_PREFIX), number, raw))
    return sorted(out, key=lambda e: (e.at, e.version, e.alias))


def _serving(pins: PinsFile) -> dict[tuple[str, str], list[Serving]]:
    out: dict[tuple[str, str], list[Serving]] = {}
    for dep in pins.deployments.values():
        for t in _deployment(pins, dep).tracks:
            for model, alias, _ in t.refs:
                entry = Serving(dep.name, dep.environment, t.colour or t.key, t.traffic)
                out.setdefault((model, alias), []).append(entry)
    return out


def _deployment(pins: PinsFile, dep: Any) -> DeploymentView:
    s = dep.strategy
    tracks = serving_tracks.tracks(pins, dep)
    shares = {"rolling": ("100%",), "shadow": ("100%", "mirrored"), "blue-green": ()}
    if s.type == "blue-green":
        traffic = tuple("active" if t.color == s.active else "idle" for t in tracks)
    else:
        traffic = shares.get(s.type, (f"{100 - s.weight}%", f"{s.weight}%"))
    views = tuple(
        Track(t.key, t.color, tuple((r.model, r.alias, r.version) for r in t.refs()), share)
        for t, share in zip(tracks, traffic, strict=True)
    )
    env = pins.environments.get(dep.environment)
    return DeploymentView(dep.name, dep.environment, env.namespace if env else "", s.type, _summary(s), views)


def _summary(s: Any) -> str:
    if s.type in ("canary", "ab"):
        steps = f" (steps {', '.join(map(str, s.steps))})" if s.steps else ""
        return f"{s.type}: {s.weight}% to the candidate{steps}"
    if s.type == "blue-green":
        return f"blue-green: {s.active} is active"
    if s.type == "shadow":
        return "shadow: the candidate gets a copy of the traffic; its answers are discarded"
    return "rolling: one track"


def _pending(pins: PinsFile, reads: Reads) -> list[Pending]:
    changes = diff(pins, {m: a for m, a in reads.actual.items() if m in pins.models})
    plan = api.Plan(pins, changes, reads.actual, reads.versions)
    refused = {(r.model, r.alias): r.reason for r in evidence.unproven(plan)}
    out = []
    for c in changes:
        m = pins.models.get(c.model)
        if c.after is None or m is None or not pins.gates_for(c.model, c.alias):
            state = "no gates"
        elif (c.model, c.alias) in refused:
            state = refused[(c.model, c.alias)]
        elif (w := m.waiver_for(c.alias, c.after)) is not None:
            state = f"waived: {w.reason}"
        else:
            state = "passed"
        out.append(Pending(c, state))
    return out


def _shown_path(path: str) -> str:
    """The pins file as pages show it: relative to the working directory, else its name (no machine paths)."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return p.name


def ago(then: datetime | None, now: datetime) -> str:
    """'3 min', '5 h', '12 d': how long ago, to one unit."""
    if then is None:
        return ""
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _parse(iso: str) -> datetime | None:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_ms(ms: int) -> str:
    return _iso(datetime.fromtimestamp(ms / 1000, timezone.utc))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
