"""The decision of one canary step, from typed evidence: advance, promote, roll back or hold. Pure.

The order is fixed: a rolled-back or unknown step holds; Prometheus unreachable, no data or too few
requests on either track hold (fail closed); a failing query rolls back at once; too little time at the
step holds; else the canary moves to the next step, or at the last one proposes the alias move.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from modelpins.pins import Strategy

ADVANCE, PROMOTE, ROLLBACK, HOLD = "advance", "promote", "rollback", "hold"
ABORTED = "aborted by Argo Rollouts:"
NO_EVIDENCE = ("no evidence:", "no data", ABORTED)  # holds that need a person, not time


@dataclass(frozen=True)
class Reading:
    """One analysis query, measured on both tracks over the same window."""

    name: str
    query: str
    candidate: float | None
    stable: float | None
    threshold: float
    direction: str  # below | above
    tolerance: float | None = None
    line: int = 0

    def failure(self) -> str | None:
        """Why the candidate fails this check (with its values), or None."""
        c, s = self.candidate, self.stable
        if c is None:
            return None
        below = self.direction == "below"
        if (c > self.threshold) if below else (c < self.threshold):
            return f"{self.name} = {c:.6g} on the candidate, {'above' if below else 'below'} {self.threshold:g}"
        if self.tolerance is not None and s is not None:
            limit = s * (1 + self.tolerance) if below else s * (1 - self.tolerance)
            if (c > limit) if below else (c < limit):
                worse = "above" if below else "below"
                return (
                    f"{self.name} = {c:.6g} on the candidate, {worse} the stable track's {s:.6g} "
                    f"by more than {self.tolerance:.0%}"
                )
        return None


@dataclass(frozen=True)
class Evidence:
    """What Prometheus said for one step: requests per track and each reading, or why it could not say."""

    window: str
    at: str  # ISO time of the measurement
    requests_candidate: float | None = None
    requests_stable: float | None = None
    readings: tuple[Reading, ...] = ()
    unreachable: str | None = None


@dataclass(frozen=True)
class Decision:
    deployment: str
    action: str  # advance | promote | rollback | hold
    reason: str
    weight: int  # the weight the canary was at
    to_weight: int  # the weight after the decision (the same on hold and promote)
    seconds_at_step: float | None
    evidence: Evidence
    failures: tuple[str, ...] = field(default=())

    @property
    def needs_attention(self) -> bool:
        """A rollback, or a hold no amount of waiting fixes (Prometheus unreachable, no data)."""
        return self.action == ROLLBACK or (self.action == HOLD and self.reason.startswith(NO_EVIDENCE))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    deployment: str, strategy: Strategy, seconds_at_step: float | None, evidence: Evidence, min_requests: int
) -> Decision:
    weight, steps = strategy.weight, strategy.steps

    def made(action: str, reason: str, to: int | None = None, failures: tuple[str, ...] = ()) -> Decision:
        return Decision(
            deployment, action, reason, weight, weight if to is None else to, seconds_at_step, evidence, failures
        )

    if weight == 0:
        return made(HOLD, "the canary is rolled back (weight 0); set the weight to a step to start it again")
    if weight not in steps:
        return made(HOLD, f"weight {weight} is not one of the steps {list(steps)}")
    blocked = _blocked(evidence, min_requests)
    if blocked:
        return made(HOLD, blocked)
    failures = tuple(f for f in (r.failure() for r in evidence.readings) if f)
    if failures:
        return made(ROLLBACK, "; ".join(failures), 0, failures)
    i = steps.index(weight)
    need = strategy.min_times[i] if strategy.min_times else 0.0
    if seconds_at_step is None:
        return made(HOLD, "cannot tell since when the weight is at this step (no git history of the file)")
    if seconds_at_step < need:
        return made(HOLD, f"{seconds_at_step:.0f}s at {weight}%, needs {need:.0f}s before it may advance")
    if i + 1 < len(steps):
        return made(ADVANCE, f"every check passed at {weight}% for {seconds_at_step:.0f}s", steps[i + 1])
    return made(PROMOTE, f"every check passed at the last step ({weight}%)")


def _blocked(evidence: Evidence, min_requests: int) -> str | None:
    """Why the evidence cannot decide anything (fail closed), or None."""
    if evidence.unreachable:
        return f"no evidence: {evidence.unreachable}"
    counts = {"candidate": evidence.requests_candidate, "stable": evidence.requests_stable}
    for track, n in counts.items():
        if n is None:
            return f"no data: Prometheus has no requests of the {track} track in the last {evidence.window}"
    few = [f"{track} {n:.0f}" for track, n in counts.items() if n is not None and n < min_requests]
    if few:
        return f"too few requests in the last {evidence.window}: {', '.join(few)} (at least {min_requests} each)"
    empty = [r.name for r in evidence.readings if r.candidate is None or (r.tolerance is not None and r.stable is None)]
    if empty:
        return f"no data for {', '.join(empty)} in the last {evidence.window}"
    return None
