"""One canary's step end to end: check its queries, measure, decide, and the edit and messages that carry it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelpins import gitrepo
from modelpins.canary import edits
from modelpins.canary.decide import ADVANCE, HOLD, PROMOTE, ROLLBACK, Decision, decide
from modelpins.canary.measure import check_queries, measure
from modelpins.canary.prometheus import Prometheus, Unreachable
from modelpins.errors import InvalidInput, OperationFailed
from modelpins.pins import Deployment, PinsFile
from modelpins.plan import Change
from modelpins.proposals import yamledit

TRAILER = "Modelpins-Canary"


def canaries(p: PinsFile) -> list[str]:
    """Deployments whose canary `modelpins canary advance` moves: those with an analysis, on the modelpins engine
    (an Argo Rollouts canary is named explicitly: reading it needs the cluster's credentials)."""
    return [
        n
        for n, d in p.deployments.items()
        if d.strategy.type == "canary" and d.strategy.analysis and d.strategy.engine == "modelpins"
    ]


def canary_of(p: PinsFile, name: str) -> Deployment:
    dep = p.deployments.get(name)
    if dep is None:
        known = ", ".join(sorted(p.deployments)) or "none"
        raise InvalidInput(f"{p.path}: no deployment '{name}' (deployments: {known})")
    if dep.strategy.type == "canary" and dep.strategy.engine == "argo-rollouts":
        return dep
    if dep.strategy.type != "canary" or dep.strategy.analysis is None:
        raise InvalidInput(
            f"{p.path}:{dep.line}: deployment '{name}' is not a canary with an 'analysis:' block; "
            "add 'strategy: {type: canary, steps: [...], analysis: {...}}'"
        )
    return dep


def evaluate(path: Path, text: str, p: PinsFile, dep: Deployment, prom: Prometheus | None, why: str) -> Decision:
    """The decision for the canary's current step (InvalidPins when Prometheus refuses one of its queries)."""
    analysis = dep.strategy.analysis
    assert analysis is not None
    if prom is not None:
        try:
            check_queries(prom, p, dep)
        except Unreachable as exc:
            prom, why = None, str(exc)
    evidence = measure(prom, p, dep, analysis, why)
    seconds = edits.seconds_at_line(path, edits.weight_line(text, p.path, dep.name))
    return decide(dep.name, dep.strategy, seconds, evidence, analysis.min_requests)


@dataclass(frozen=True)
class Outcome:
    """What a decision changes: the new file text, and the commit message and title that carry it."""

    new_text: str
    message: str
    title: str
    changes: tuple[Change, ...] = ()


def evidence_lines(d: Decision) -> list[str]:
    e = d.evidence
    out = [
        f"window {e.window} at {e.at}; requests: candidate {_n(e.requests_candidate)}, stable {_n(e.requests_stable)}"
    ]
    for r in e.readings:
        verdict = "FAIL" if r.failure() else "ok"
        bound = f"{'<=' if r.direction == 'below' else '>='} {r.threshold:g}"
        tol = f", within {r.tolerance:.0%} of stable" if r.tolerance is not None else ""
        out.append(f"  {r.name}: candidate {_n(r.candidate)}, stable {_n(r.stable)} ({bound}{tol}) {verdict}")
    return out


def _n(v: float | None) -> str:
    return "no data" if v is None else f"{v:.6g}"


def outcome(d: Decision, text: str, p: PinsFile, dep: Deployment) -> Outcome | None:
    """The edit a decision makes (None on hold)."""
    if d.action == HOLD:
        return None
    body = "\n".join([d.reason, "", *evidence_lines(d)])
    if d.action == PROMOTE:
        promo = edits.promote(text, p, dep)
        moves = ", ".join(f"{c.model}@{c.alias} {c.before} -> {c.after}" for c in promo.changes)
        title = f"Promote {moves} after canary {dep.name}"
        trailer = f"{TRAILER}: {dep.name} promote at {d.weight}%"
        return Outcome(promo.new_text, f"{title}\n\n{body}\n\n{trailer}\n", title, promo.changes)
    if d.action == ADVANCE:
        title = f"Canary {dep.name}: {d.weight}% -> {d.to_weight}% on live evidence"
    else:
        assert d.action == ROLLBACK
        title = f"Canary {dep.name}: roll back ({d.weight}% -> 0%), checks failed"
    new_text = edits.set_weight(text, p.path, dep.name, d.to_weight)
    trailer = f"{TRAILER}: {dep.name} {d.action} {d.weight} -> {d.to_weight}"
    return Outcome(new_text, f"{title}\n\n{body}\n\n{trailer}\n", title)


def branch_for(path: Path, text: str, p: PinsFile, d: Decision) -> str:
    """The branch of a decision's proposal: one per deployment, decision and step (the step is the commit that set
    the current weight), so each scheduled run that reaches the same decision at the same step names the same branch."""
    step = edits.commit_at_line(path, edits.weight_line(text, p.path, d.deployment))
    move = f"at-{d.weight}" if d.action == PROMOTE else f"{d.weight}-to-{d.to_weight}"
    return f"canary/{d.deployment}-{d.action}-{move}-{step[:12] or 'uncommitted'}"


def commit_here(source: yamledit.Source, new_text: str, message: str) -> str:
    """Write the edit and commit it on the branch checked out (the scheduled workflow's weight moves)."""
    repo, rel = gitrepo.locate(source.path)
    if gitrepo.git(repo, "status", "--porcelain", "--", rel).stdout.strip():
        raise InvalidInput(f"{rel} has uncommitted changes; commit or stash them before --commit")
    yamledit.write(source, new_text)
    out = gitrepo.git(repo, "commit", "--quiet", "-m", message, "--", rel, check=False)
    if out.returncode != 0:
        raise OperationFailed(f"git commit failed (the file is edited): {out.stderr.strip()[:300]}")
    return gitrepo.git(repo, "rev-parse", "HEAD").stdout.strip()
