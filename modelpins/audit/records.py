"""The audit records: how one alias move's record is made and keyed, and how records are read back.

The stored format is described in modelpins.tags. The core's write path (api.apply_plan) writes them,
so this module imports only the core's data types (plan, context) and base modules.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping

from modelpins.context import Context
from modelpins.plan import Change
from modelpins.tags import AUDIT_PREFIX


def audit_key(alias: str, now: float | None = None) -> str:
    """The tag key of one move's record: never reused, so no record overwrites another; sorts by time."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"
    return f"{AUDIT_PREFIX}{alias}.{stamp}-{secrets.token_hex(3)}"


def audit_entries(tags: Mapping[str, str], alias: str | None = None) -> list[tuple[str, dict[str, object]]]:
    """(alias, record) of every audit record in a version's tags, oldest first.

    Reads both the per-move keys and the single `modelpins.audit.<alias>` tag older versions
    of modelpins wrote (one per version and alias, overwritten by each move).
    """
    found = []
    for key, value in tags.items():
        if not key.startswith(AUDIT_PREFIX):
            continue
        name = key.removeprefix(AUDIT_PREFIX).split(".", 1)[0]
        if alias and name != alias:
            continue
        try:
            record = json.loads(value)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append((str(record.get("at", "")), key, name, record))
    return [(name, record) for _, _, name, record in sorted(found, key=lambda f: (f[0], f[1]))]


def audit_record(change: Change, ctx: Context, extra: dict[str, object] | None = None) -> str:
    record: dict[str, object] = {
        "action": change.action,
        "alias": change.alias,
        "from": change.before,
        "to": change.after,
        **ctx.as_dict(),
        **(extra or {}),
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"))
