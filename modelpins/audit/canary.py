"""Canary decisions in the audit trail: one tag per decision on the candidate's version, and reading them back.

Tag `modelpins.canary.<deployment>.<time>-<random>` holds compact JSON: the action, the reason, the weight
before and after, the seconds at the step, the window, the requests per track and each query's values on
both tracks (cut to the tag's size limit). `history` lists them beside the alias transitions.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from modelpins.tags import CANARY_PREFIX
from modelpins.text import columns

MAX_TAG = 4900  # MLflow caps tag values at 5000 characters


def key(deployment: str, now: float | None = None) -> str:
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"
    return f"{CANARY_PREFIX}{deployment}.{stamp}-{secrets.token_hex(3)}"


def value(record: Mapping[str, Any]) -> str:
    """The record as compact JSON within the tag limit: queries' text goes first, then readings."""
    body = dict(record)
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    evidence = dict(body.get("evidence") or {})
    if len(text) > MAX_TAG and evidence.get("readings"):
        evidence["readings"] = [{k: v for k, v in r.items() if k != "query"} for r in evidence["readings"]]
        body["evidence"] = evidence
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    if len(text) > MAX_TAG:
        body["evidence"] = {"truncated": True, "window": evidence.get("window")}
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    return text


def records(tags: Mapping[str, str], deployment: str | None = None) -> list[dict[str, Any]]:
    """Every canary record in a version's tags (of `deployment` only, if given), oldest first."""
    out = []
    for name, raw in sorted(tags.items()):
        if not name.startswith(CANARY_PREFIX):
            continue
        if deployment and name.removeprefix(CANARY_PREFIX).rsplit(".", 1)[0] != deployment:
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return sorted(out, key=lambda r: str((r.get("evidence") or {}).get("at", "")))


def promoted_by(tags: Mapping[str, str]) -> dict[str, Any] | None:
    """The newest `promote` decision on a version, compact (for the gate evidence tag), or None."""
    found = [r for r in records(tags) if r.get("action") == "promote"]
    if not found:
        return None
    r, evidence = found[-1], found[-1].get("evidence") or {}
    keep = ("name", "candidate", "stable", "threshold", "direction", "tolerance")
    return {
        "deployment": r.get("deployment"),
        "weight": r.get("weight"),
        "window": evidence.get("window"),
        "at": evidence.get("at"),
        "requests": {"candidate": evidence.get("requests_candidate"), "stable": evidence.get("requests_stable")},
        "readings": [{k: q.get(k) for k in keep} for q in evidence.get("readings") or []],
    }


def table(found: list[dict[str, Any]]) -> str:
    rows = [("WHEN", "DEPLOYMENT", "DECISION", "WEIGHT", "WHY")]
    for r in found:
        at = str((r.get("evidence") or {}).get("at", ""))[:16].replace("T", " ")
        weight = f"{r.get('weight')} -> {r.get('to_weight')}"
        rows.append((at, str(r.get("deployment")), str(r.get("action")), weight, str(r.get("reason", ""))[:100]))
    return columns(rows)
