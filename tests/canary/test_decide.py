"""The decision of one step from typed evidence (pure): the order holds, rollbacks and advances are taken in."""

from __future__ import annotations

from modelpins.canary.decide import Evidence, Reading, decide
from modelpins.pins import Strategy

STRATEGY = Strategy("canary", weight=10, steps=(10, 50, 100), min_times=(600.0, 600.0, 0.0))


def reading(candidate: float | None, stable: float | None = 0.01, tolerance: float | None = 0.2) -> Reading:
    return Reading("error-ratio", "q", candidate, stable, 0.05, "below", tolerance)


def evidence(*readings: Reading, cand: float | None = 500, stable: float | None = 5000, down: str | None = None):
    return Evidence("5m", "2026-12-06T00:00:00+00:00", cand, stable, readings, down)


def test_a_failing_check_rolls_back_even_before_the_minimum_time() -> None:
    d = decide("a", STRATEGY, 5, evidence(reading(0.2)), 100)
    assert (d.action, d.to_weight) == ("rollback", 0) and d.failures == (
        "error-ratio = 0.2 on the candidate, above 0.05",
    )


def test_worse_than_stable_by_more_than_the_tolerance_rolls_back() -> None:
    d = decide("a", STRATEGY, 700, evidence(reading(0.04, stable=0.01)), 100)
    assert d.action == "rollback" and "stable track's 0.01 by more than 20%" in d.reason


def test_missing_evidence_holds_before_anything_else() -> None:
    assert "did not answer" in decide("a", STRATEGY, 700, evidence(down="Prometheus did not answer"), 100).reason
    assert "no data" in decide("a", STRATEGY, 700, evidence(reading(0.2), cand=None), 100).reason
    assert "too few requests" in decide("a", STRATEGY, 700, evidence(reading(0.2), cand=50), 100).reason
    assert "no data for error-ratio" in decide("a", STRATEGY, 700, evidence(reading(None)), 100).reason


def test_time_at_the_step_then_the_next_step_then_the_alias_move() -> None:
    ok = evidence(reading(0.01))
    assert decide("a", STRATEGY, 599, ok, 100).action == "hold"
    assert decide("a", STRATEGY, None, ok, 100).action == "hold"  # no git history: cannot tell, so hold
    d = decide("a", STRATEGY, 600, ok, 100)
    assert (d.action, d.weight, d.to_weight) == ("advance", 10, 50)
    last = Strategy("canary", weight=100, steps=(10, 50, 100), min_times=(600.0, 600.0, 0.0))
    assert decide("a", last, 0, ok, 100).action == "promote"
    rolled_back = Strategy("canary", weight=0, steps=(10, 50, 100))
    assert decide("a", rolled_back, 10**6, ok, 100).action == "hold"
