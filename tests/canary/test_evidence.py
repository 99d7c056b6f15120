"""The canary's evidence travels with the alias move it proposed: into the gate evidence tag of that version."""

from __future__ import annotations

import json

from modelpins.audit import canary as audit_canary
from modelpins.canary.decide import Evidence, Reading, decide
from modelpins.gates import AliasCheck
from modelpins.gates.evidence import record
from modelpins.pins import Strategy


def test_the_gate_evidence_tag_carries_the_promote_decision_of_the_canary() -> None:
    last = Strategy("canary", weight=100, steps=(10, 50, 100))
    ratio = Reading("error-ratio", "sum(...)", 0.001, 0.002, 0.02, "below")
    d = decide("assistant", last, 60, Evidence("10m", "2026-12-06T19:00:00+00:00", 900, 9000, (ratio,)), 100)
    assert d.action == "promote"
    tags = {audit_canary.key("assistant"): audit_canary.value({**d.as_json(), "model": "m", "version": 3})}

    canary = audit_canary.promoted_by(tags)
    check = AliasCheck("m", "champion", 2, 3, 1, (), "sha256:x", {})
    body = json.loads(record(check, "abc", "2026-12-06T19:05:00Z", canary))

    assert body["canary"]["deployment"] == "assistant" and body["canary"]["window"] == "10m"
    assert body["canary"]["requests"] == {"candidate": 900, "stable": 9000}
    [reading] = body["canary"]["readings"]
    assert (reading["name"], reading["candidate"], reading["stable"]) == ("error-ratio", 0.001, 0.002)
    assert audit_canary.promoted_by({}) is None  # a move no canary proposed records no canary
