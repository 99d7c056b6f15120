"""A gate report as a terminal table, as markdown (PR comment, job summary) and as JSON."""

from __future__ import annotations

from typing import Any

from modelpins.escape import block, cell, fence
from modelpins.gates import AliasCheck, GateReport, GateResult
from modelpins.gates.builtin import fmt
from modelpins.text import columns

MAX_MARKDOWN = 60_000  # GitHub comments stop at 65536 characters


def _version(c: AliasCheck) -> str:
    return f"{c.after}" if c.before is None else f"{c.before} -> {c.after}"


def _value(r: GateResult) -> str:
    return "-" if r.value is None else fmt(r.value)


def _verdict(r: GateResult) -> str:
    return "ERROR" if r.error else ("pass" if r.passed else "FAIL")


def summary(report: GateReport) -> str:
    if not report.checks:
        return "No alias moves to gate."
    total, failed = len(report.checks), report.failed
    deferred = sum(1 for c in report.checks if c.deferred)
    head = f"Gates: {total - len(failed) - deferred} of {total} alias move{'s' if total != 1 else ''} passed"
    if deferred:
        head += f", {deferred} with a gate change (run after merge)"
    if not failed:
        return head + "."
    blocked = "; ".join(f"{c.ref} v{c.after} ({', '.join(r.name for r in c.results if not r.passed)})" for c in failed)
    return f"{head}; blocked: {blocked}"


def table(report: GateReport) -> str:
    rows = [("ALIAS", "VERSION", "GATE", "KIND", "VALUE", "THRESHOLD", "RESULT")]
    for c in report.checks:
        if c.deferred:
            rows.append((c.ref, _version(c), "(gate change)", "", "", "", "after merge"))
        elif not c.results:
            rows.append((c.ref, _version(c), "(no gates)", "", "", "", "pass"))
        for i, r in enumerate(c.results):
            lead = (c.ref, _version(c)) if i == 0 else ("", "")
            rows.append((*lead, r.name, r.kind, _value(r), r.threshold or "-", _verdict(r)))
    lines = [columns(rows)]
    notes = [_note(c, r) for c in report.checks for r in c.results if r.error or (not r.passed and r.detail)]
    notes += [f"{c.ref} v{c.after}: {c.deferred}" for c in report.checks if c.deferred]
    return "\n".join(lines + ([""] + notes if notes else []))


def _note(c: AliasCheck, r: GateResult) -> str:
    text = block(r.error or r.detail)  # a gate's own text (and the registry text it quotes)
    return f"{c.ref} v{c.after} {r.name}: " + text.replace("\n", "\n    ")


def as_json(report: GateReport) -> dict[str, Any]:
    return {
        "passed": report.passed,
        "base": report.base,
        "commit": report.commit,
        "changes": [
            {
                "model": c.model,
                "alias": c.alias,
                "from": c.before,
                "to": c.after,
                "passed": c.passed,
                "digest": c.digest or None,
                "recorded": c.recorded,
                "deferred": c.deferred or None,
                "gates": [r.as_json() for r in c.results],
            }
            for c in report.checks
        ],
    }


def markdown(report: GateReport) -> str:
    """A self-contained report for a PR comment or $GITHUB_STEP_SUMMARY."""
    out = [f"### {_headline(report)}", "", _facts(report), ""]
    out += _rows(report) + _errors(report) + _notes(report)
    text = "\n".join(out) + "\n"
    if len(text) > MAX_MARKDOWN:
        text = text[:MAX_MARKDOWN] + "\n\n(report truncated)\n"
    return text


def _headline(report: GateReport) -> str:
    if not report.checks:
        icon, head = "✅", "no alias moves to gate"
    elif report.passed and any(c.deferred for c in report.checks):
        deferred = sum(1 for c in report.checks if c.deferred)
        icon, head = "🔒", f"gate change: {deferred} of {len(report.checks)} alias moves are gated after merge"
    elif report.passed:
        icon, head = "✅", f"all {len(report.checks)} alias moves passed their gates"
    else:
        icon, head = "❌", f"{len(report.failed)} of {len(report.checks)} alias moves blocked"
    return f"{icon} modelpins gates: {head}"


def _facts(report: GateReport) -> str:
    facts = [f"pins file `{cell(report.pins_path)}`"]
    if report.base:
        facts.append(f"changes since `{cell(report.base)}`")
    if report.commit:
        facts.append(f"commit `{report.commit[:12]}`")
    return " · ".join(facts)


def _rows(report: GateReport) -> list[str]:
    out = ["| | Alias move | Gate | Kind | Value | Threshold | Detail |", "|---|---|---|---|---|---|---|"]
    for c in report.checks:
        move = f"`{c.model}@{c.alias}` {_version(c).replace('->', '→')}"
        if c.deferred:
            out.append(f"| 🔒 | {move} | gate change | | | | {cell(c.deferred)} |")
        elif not c.results:
            out.append(f"| ✅ | {move} | (no gates) | | | | |")
        for r in c.results:
            icon = "✅" if r.passed else ("⚠️" if r.error else "❌")
            detail = "error, see below" if r.error else r.detail
            out.append(
                f"| {icon} | {move} | {cell(r.name)} | {r.kind} | {_value(r)} | {cell(r.threshold or '-')} "
                f"| {cell(detail)} |"
            )
    return out if report.checks else []


def _errors(report: GateReport) -> list[str]:
    errors = [(c, r) for c in report.checks for r in c.results if r.error]
    if not errors:
        return []
    out = ["", "<details><summary>Gate errors (a gate that errors fails closed)</summary>", ""]
    for c, r in errors:
        out += [f"**{c.model}@{c.alias} v{c.after}, {cell(r.name)}**", "", fence(r.error[:4000]), ""]
    return [*out, "</details>"]


def _notes(report: GateReport) -> list[str]:
    out = []
    if any(c.deferred for c in report.checks):
        out += [
            "",
            "**Gate change**: this pull request changes gate definitions or gate scripts. The checks ran the "
            "base commit's gates only; the changed gates run after merge, in the apply job, which refuses a move "
            "that fails them.",
        ]
    if report.failed:
        out += ["", "Blocked moves cannot be applied until their gates pass: fix the candidate or the pins file."]
    return out
