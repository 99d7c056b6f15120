"""A canary decision as an edit of model_pins.yaml: the weight (one line), or the alias move at the end.

Also reads, from git, since when the weight has been at its step: the commit time of the weight's
line (`git blame`); an uncommitted weight has been there for no time yet. That commit also names the
step, so a proposal for it gets the same branch on every scheduled run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from modelpins import gitrepo
from modelpins.errors import InvalidInput
from modelpins.pins import Deployment, PinsFile
from modelpins.plan import Change
from modelpins.proposals import proposal, yamledit


def _strategy(doc: yamledit.Doc, deployment: str) -> yaml.Node:
    deps = doc.get(doc.root, "deployments")
    dep = doc.get(deps[1], deployment) if deps else None
    strategy = doc.get(dep[1], "strategy") if dep else None
    if strategy is None:
        raise InvalidInput(f"{doc.path}: deployment '{deployment}' has no strategy")
    return strategy[1]


def weight_line(text: str, path: str, deployment: str) -> int:
    """The line of the canary's `weight:` (of its `strategy:` when the weight is not written)."""
    doc = yamledit.Doc(text, path)
    strategy = _strategy(doc, deployment)
    found = doc.get(strategy, "weight")
    node = found[1] if found else strategy
    return int(node.start_mark.line) + 1


def set_weight(text: str, path: str, deployment: str, weight: int) -> str:
    """`text` with the canary's weight replaced (or added after its steps); the result must validate."""
    doc = yamledit.Doc(text, path)
    strategy = _strategy(doc, deployment)
    found = doc.get(strategy, "weight")
    if found:
        splice = doc.replace(found[1], str(weight))
    else:
        splice = doc.insert_entry(strategy, f"weight: {weight}", f"strategy of '{deployment}'")
    return proposal.edited(text, path, [splice], "canary")


@dataclass(frozen=True)
class Promotion:
    new_text: str
    changes: tuple[Change, ...]


def promote(text: str, p: PinsFile, dep: Deployment) -> Promotion:
    """Each stable alias the candidate replaces, pointed at the candidate alias's version (the alias move)."""
    doc = yamledit.Doc(text, p.path)
    splices, changes = [], []
    for stable, cand in zip(dep.serve, dep.strategy.candidate, strict=False):
        for s_ref, c_ref in zip(stable.refs(), cand.refs(), strict=False):
            if s_ref.model != c_ref.model or s_ref.alias == c_ref.alias:
                continue
            m = p.models[s_ref.model]
            before, after = m.aliases[s_ref.alias].version, m.aliases[c_ref.alias].version
            if before == after:
                continue
            splices += proposal.retarget(doc, p, s_ref.model, s_ref.alias, after)
            changes.append(Change(s_ref.model, s_ref.alias, before, after, m.aliases[s_ref.alias].line))
    if not changes:
        raise InvalidInput(
            f"{p.path}:{dep.line}: the candidate of '{dep.name}' serves the same versions as its stable track; "
            "nothing to promote"
        )
    return Promotion(proposal.edited(text, p.path, splices, "promotion"), tuple(changes))


def candidate_version(p: PinsFile, dep: Deployment) -> tuple[str, int] | None:
    """The version the candidate track stands for (its adapter, else its model): where decisions are recorded."""
    if not dep.strategy.candidate:
        return None
    entry = dep.strategy.candidate[0]
    ref = entry.adapter or entry.model
    pin = p.models.get(ref.model)
    alias = pin.aliases.get(ref.alias) if pin else None
    return (ref.model, alias.version) if alias else None


def _blame(path: Path, line: int) -> dict[str, str] | None:
    """`git blame --porcelain` of one line of the file: its fields, and `commit` (None: not in git)."""
    try:
        repo, rel = gitrepo.locate(path)
    except InvalidInput:
        return None
    out = gitrepo.git(repo, "blame", "--porcelain", "-L", f"{line},{line}", "--", rel, check=False)
    if out.returncode != 0 or not out.stdout:
        return None
    rows = out.stdout.splitlines()
    fields = dict(ln.split(" ", 1) for ln in rows[1:] if " " in ln and not ln.startswith("\t"))
    return {**fields, "commit": rows[0].split(" ", 1)[0]}


def seconds_at_line(path: Path, line: int, now: float | None = None) -> float | None:
    """Seconds since the commit that last changed `line` of the file (0 when uncommitted; None: not in git)."""
    fields = _blame(path, line)
    if fields is None:
        return None
    if fields.get("author") == "Not Committed Yet" or "committer-time" not in fields:
        return 0.0
    return max(0.0, (time.time() if now is None else now) - float(fields["committer-time"]))


def commit_at_line(path: Path, line: int) -> str:
    """The commit that last changed `line` of the file: the step the canary stands at ("" when uncommitted)."""
    fields = _blame(path, line)
    if fields is None or fields.get("author") == "Not Committed Yet":
        return ""
    return fields["commit"]
