"""A board of N models built in-process, without a registry server: the pins file as text, the registry's
reads as data (aliases, versions, audit records), then `modelpins.board.model.build`, as `site` does.

For the site at scale (tests/site/test_scale.py, bench/site.py): every model has a champion and a
challenger, one owner team of ten, audit records spread over the models (a rollback every seventh
record), drift on every 50th model.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from modelpins import pins
from modelpins.audit.records import audit_key
from modelpins.board import model
from modelpins.board.reads import Reads
from modelpins.board.views import Board
from modelpins.registry import VersionInfo

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
T0 = NOW.timestamp() - 30 * 86400


def name(i: int) -> str:
    return f"model-{i:05d}"


def pins_text(n: int) -> str:
    lines = ["version: 1", "models:"]
    for i in range(n):
        lines += [f"  {name(i)}:", f'    owners: ["@acme/team-{i % 10}"]', "    aliases:", "      champion: 3",
                  "      challenger: 4"]  # fmt: skip
    return "\n".join(lines) + "\n"


def board(n: int, records: int, tmp: Path, extra: dict[tuple[str, int], dict[str, str]] | None = None) -> Board:
    """`extra`: more tags on some versions (model, version) -> {key: value}."""
    path = tmp / "model_pins.yaml"
    path.write_text(pins_text(n))
    desired = pins.load(path)
    actual = {name(i): {"champion": 3, "challenger": 5 if i % 50 == 0 else 4} for i in range(n)}
    tags: dict[tuple[str, int], dict[str, str]] = {(name(i), v): {} for i in range(n) for v in (1, 2, 3, 4, 5)}
    for r in range(records):
        i, back = r % n, r % 7 == 6
        before, after = (4, 3) if back else (2, 3)
        at = T0 + r * 60
        record = {"action": "move", "alias": "champion", "from": before, "to": after, "actor": f"user{r % 13}",
                  "pr": str(1000 + r), "at": datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "gates": "passed"}  # fmt: skip
        tags[(name(i), after)][audit_key("champion", at)] = json.dumps(record)
    for k, more in (extra or {}).items():
        tags[k].update(more)
    versions = {k: VersionInfo(k[0], k[1], "READY", tags=t, created_ms=int(T0 * 1000)) for k, t in tags.items()}
    return model.build(desired, Reads(actual, versions), "http://mlflow.example", NOW, "https://github.com/acme/models")
