"""Markdown for people: the PR comment, job summaries, the approvals table. Pure functions of data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from modelpins.approvals import Approval
from modelpins.errors import Problem
from modelpins.escape import code, text
from modelpins.integrity.signing import status as signature_status
from modelpins.plan import Change
from modelpins.provenance.card import CARD_TAG, ui_url
from modelpins.registry import VersionInfo
from modelpins.text import version

UNSET = "–"  # an alias without a version, in markdown tables


@dataclass
class PrReport:
    """Everything the PR comment says. `registry` is None when the registry was not read."""

    pins_path: str
    base: str
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    registry: Mapping[str, Mapping[str, int]] | None = None
    registry_note: str = ""
    cards: list[Card] = field(default_factory=list)
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    gates: str | None = None  # the gate table (markdown), when gates ran
    gates_outcome: str = ""  # success | failure | skipped | cancelled | "" (unknown)
    commit: str | None = None
    run_url: str | None = None
    environments: str = ""  # the promotions across environments (markdown), when their registries were read
    soak_refused: bool = False  # a promotion the promotion order's soak time does not allow yet
    registry_given: bool = False  # a tracking URI was given (the gates could run here)
    commented: bool = True  # posted as the PR comment (False: the job summary only)

    @property
    def ready(self) -> bool:
        if self.problems or self.soak_refused or self.gates_outcome in ("failure", "cancelled"):
            return False
        return not self.changes or self.gates_outcome == "success"


def plan_markdown(
    changes: list[Change], pins_path: str, base: str | None, registry: Mapping[str, Mapping[str, int]] | None
) -> str:
    against = f"relative to {code(base)}" if base else "against the registry"
    if not changes:
        return f"**Plan**: no alias changes {against}."
    n = len(changes)
    out = [f"**Plan**: {n} alias change{'s' if n != 1 else ''} {against}", ""]
    head = ["Action", "Model", "Alias", "From", "To"]
    if registry is not None:
        head.append("Registry now")
    head.append("Line")
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in changes:
        row = [c.action, code(c.model), code(c.alias), version(c.before, UNSET), version(c.after, UNSET)]
        if registry is not None:
            now = registry.get(c.model, {}).get(c.alias)
            row.append(version(now, UNSET) + (" ⚠️ differs from base" if base and now != c.before else ""))
        row.append(code(f"{pins_path}:{c.line}") if c.line else "")
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def plan_json(
    changes: list[Change], base: str | None, registry: Mapping[str, Mapping[str, int]] | None
) -> dict[str, object]:
    """`plan --json`: {"changes": [...]}, with the base and each alias's registry version when known."""
    rows = [c.as_json() for c in changes]
    if registry is not None:
        rows = [r | {"registry": registry.get(c.model, {}).get(c.alias)} for r, c in zip(rows, changes, strict=True)]
    return {"base": base, "changes": rows} if base else {"changes": rows}


def plan_footer(changes: list[Change], base: str, registry: Mapping[str, Mapping[str, int]] | None) -> str:
    """The line under `plan --base`'s table, and a note for every alias the registry holds elsewhere."""
    n = len(changes)
    lines = [
        f"{n} alias change{'s' if n != 1 else ''} relative to {base}." if n else f"No alias changes relative to {base}."
    ]
    drifted = [(c, registry.get(c.model, {}).get(c.alias)) for c in changes] if registry is not None else []
    for c, now in drifted:
        if now != c.before:
            lines.append(f"note: {c.model}@{c.alias} is {version(now)} in the registry, {version(c.before)} at {base}")
    return "\n".join(lines)


def problems_markdown(problems: Iterable[Problem]) -> str:
    lines = []
    for p in problems:
        fix = f" Fix: {text(p.fix)}" if p.fix else ""
        lines.append(f"- {code(f'{p.path}:{p.line}')} {text(p.message)}.{fix}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Card:
    """The model card of a version an alias moves to: attached (`modelpins card`) or not yet."""

    model: str
    alias: str
    version: int
    url: str
    attached: bool
    signature: str = ""  # "signed by ... (method, bundle digest ...)" or "unsigned", from the version's tag


def cards(changes: list[Change], versions: Mapping[tuple[str, int], VersionInfo], tracking_uri: str) -> list[Card]:
    """One entry per set/move, from the version tags the plan already read (no extra request)."""
    out = []
    for c in changes:
        info = versions.get((c.model, c.after)) if c.after is not None else None
        if c.after is not None and info is not None:
            url = ui_url(tracking_uri, c.model, c.after)
            out.append(Card(c.model, c.alias, c.after, url, CARD_TAG in info.tags, signature_status(info.tags)))
    return out


def pr_comment(r: PrReport) -> str:
    status = "✅ ready for review" if r.ready else "❌ not ready to merge"
    if not r.problems and r.changes and r.gates_outcome not in ("success", "failure", "cancelled"):
        status = "⏳ gates have not passed yet"
    out = [f"### modelpins: {status}", ""]
    if r.problems:  # no plan of an invalid file
        n = len(r.problems)
        out += [f"**Validation**: ❌ {n} problem{'s' if n != 1 else ''}", "", problems_markdown(r.problems), ""]
        out += ["**Plan**: not made: fix the problems above first.", ""]
    else:
        out += [f"**Validation**: ✅ {code(r.pins_path)} is valid", ""]
        out += [plan_markdown(r.changes, r.pins_path, r.base, r.registry), ""]
    if r.environments:
        out += [r.environments, ""]
    if r.registry_note:
        out += [f"⚠️ {text(r.registry_note)}", ""]
    if r.owners:
        out += ["**Approvals**: each changed model needs a review from one of its owners", ""]
        out += [
            f"- {code(m)}: {', '.join(code(o) for o in owners) or '❌ none (no owners, no pass)'}"
            for m, owners in r.owners.items()
        ]
        out.append("")
    if r.cards:
        out += ["**Model cards**", ""]
        out += [
            f"- {code(f'{c.model}@{c.alias}')} v{c.version}: "
            + (
                (f"[model card]({c.url})" if c.url else "model card attached (in the registry)")
                if c.attached
                else f"no card yet (`modelpins card {c.model}@{c.alias}`)"
            )
            for c in r.cards
        ]
        out.append("")
        out += ["**Signatures** of the versions the aliases move to (the `signature` gates verify them)", ""]
        out += [
            f"- {code(f'{c.model}@{c.alias}')} v{c.version}: "
            + ("⚠️ unsigned" if c.signature == "unsigned" else text(c.signature))
            for c in r.cards
        ]
        out.append("")
    out += ["**Gates**", "", _gates_section(r), ""]
    footer = f"Checked {code(r.commit[:12])}" if r.commit else "Checked"
    footer += f" · [workflow run]({r.run_url})" if r.run_url else ""
    out.append(f"<sub>{footer}.{' This comment is updated on every push.' if r.commented else ''}</sub>")
    return "\n".join(out) + "\n"


def _gates_section(r: PrReport) -> str:
    """The gate table, or why there is none."""
    if r.gates is not None:
        return r.gates.strip()
    if r.problems:
        return "Not run: fix the problems above first."
    if not r.changes:
        return "Nothing to gate: no alias moves."
    if r.registry_given:
        return "Not run: the registry could not be read (see above). Run the check again once it answers."
    return (
        "Not run in this check (it has no registry access): a trusted follow-up (`pins / fork gates`) runs "
        "them and sets the `modelpins / gates` status; apply runs them again after the merge."
    )


def approvals_markdown(results: list[Approval]) -> str:
    if not results:
        return "**Approvals**: no model changes need an owner's approval."
    out = ["**Approvals**", "", "| Changed | Owners | Approved by | |", "|---|---|---|---|"]
    for a in results:
        owners = ", ".join(code(o) for o in a.owners) or "none (no owners, no pass: add owners)"
        by = ", ".join(code(x) for x in a.approved_by) or "–"
        mark = "✅" if a.ok else "❌"
        if not a.ok and a.unknown:
            mark += " team membership not readable: " + ", ".join(code(t) for t in a.unknown)
        out.append(f"| {code(a.subject)} | {owners} | {by} | {mark} |")
    return "\n".join(out)


def apply_markdown(applied: list[Change], failures: list[tuple[Change, str]], not_started: list[Change]) -> str:
    """The job summary of an apply: what was written, what failed (in flight included), what was not started."""
    total = len(applied) + len(failures) + len(not_started)
    head = "### modelpins apply: " + (
        f"❌ stopped: {len(applied)} of {total} changes applied, {len(failures)} failed"
        if failures
        else f"✅ {len(applied)} change{'s' if len(applied) != 1 else ''} applied"
    )
    rows = [("✅ applied", c) for c in applied]
    rows += [("❌ failed", c) for c, _ in failures]
    rows += [("⏸️ not started", c) for c in not_started]
    out = [head, "", "| Result | Model | Alias | From | To |", "|---|---|---|---|---|"]
    out += [
        f"| {r} | {code(c.model)} | {code(c.alias)} | {version(c.before, UNSET)} | {version(c.after, UNSET)} |"
        for r, c in rows
    ]
    if failures:
        out += ["", *(f"Error ({code(c.model + '@' + c.alias)}): {text(e)}" for c, e in failures)]
        out += [
            "",
            "A failed change did not take effect and has no audit record. Once the cause is fixed, run apply "
            "again on the branch head: it continues from the registry's state and writes only what still differs.",
        ]
    return "\n".join(out) + "\n"
