"""`modelpins status`: the board as a terminal table."""

from __future__ import annotations

from modelpins.board.views import Board, Cell
from modelpins.text import columns


def table(board: Board) -> str:
    rows = [("MODEL", "ALIAS", "VERSION", "SINCE", "PROMOTED BY", "PR", "GATES", "DRIFT", "SERVES")]
    for m in board.models:
        for c in m.cells.values():
            p = c.promotion
            rows.append(
                (
                    m.name,
                    c.alias,
                    _v(c.version),
                    f"{c.since[:16].replace('T', ' ')} ({c.age} ago)" if c.since else "-",
                    (p.actor or "-") if p else "-",
                    f"#{p.pr}" if p and p.pr else "-",
                    gates(c),
                    f"{c.drift}: file {_v(c.pinned)}" if c.drift else "-",
                    ", ".join(f"{s.deployment} {s.track} {s.traffic}" for s in c.serving) or "-",
                )
            )
    lines = [columns(rows)]
    if board.deployments:
        lines += [
            "",
            columns(
                [
                    ("DEPLOYMENT", "ENVIRONMENT", "STRATEGY"),
                    *((d.name, d.environment, d.summary) for d in board.deployments),
                ]
            ),
        ]
    count = len(board.pending)
    lines += ["", f"{count} pending change{'s' if count != 1 else ''} (modelpins plan); {len(board.drifted)} drifted."]
    return "\n".join(lines)


def gates(c: Cell) -> str:
    if c.evidence is None:
        return "no record" if c.gated else "-"
    values = ", ".join(f"{r.name}={_num(r.value)}" for r in c.evidence.results)
    return f"{c.evidence.status} ({values})" if values else c.evidence.status


def _num(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _v(version: int | None) -> str:
    return "-" if version is None else str(version)
