"""How the plan of the environments shows: a table, a summary line, the PR comment's section, JSON."""

from __future__ import annotations

from modelpins.crossenv.model import Promotions, Wait, duration, stamp


def table(promos: Promotions) -> str:
    """Each environment's copies, then its alias moves, as the plan shows them."""
    from modelpins.text import columns

    blocks = []
    held = {w.pin for w in promos.refused}
    for ep in promos.envs:
        rows = [("ENVIRONMENT", "MODEL", "ALIAS", "FROM", "TO", "ACTION")]
        for c in ep.copies:
            if f"{c.model}@{c.alias} in {c.environment}" in held:
                rows.append(
                    (ep.environment, c.target, c.alias, f"{c.source.model} v{c.source.version}", "-", "held (soak)")
                )
            elif not c.exists:
                rows.append(
                    (
                        ep.environment,
                        c.target,
                        "",
                        f"{c.source.model} v{c.source.version}",
                        f"v{c.version} (new)",
                        "copy",
                    )
                )
        for ch in ep.plan.changes:
            rows.append((ep.environment, ch.model, ch.alias, _v(ch.before), _v(ch.after), ch.action))
        if len(rows) > 1:
            blocks.append(columns(rows))
    for w in promos.overridden:
        blocks.append(f"soak override: {w.pin} (from {w.source}): {w.override}")
    return "\n".join(blocks)


def summary(promos: Promotions) -> str:
    copies = sum(1 for ep in promos.envs for c in ep.copies if not c.exists)
    moves = sum(len(ep.plan.changes) for ep in promos.envs)
    if not copies and not moves:
        return "No changes in the environments' registries."
    return f"Environments: {copies} cop{'ies' if copies != 1 else 'y'}, {moves} alias change{'s' if moves != 1 else ''}"


def _v(version: int | None) -> str:
    return "-" if version is None else str(version)


def markdown(promos: Promotions) -> str:
    """The PR comment's section: copies and alias moves per environment, soak checks and overrides."""
    out = ["**Promotions across environments**", ""]
    out += ["| Environment | Action | Model | Alias | From | To |", "|---|---|---|---|---|---|"]
    for ep in promos.envs:
        for c in ep.copies:
            if not c.exists:
                row = (ep.environment, "copy", c.target, "", f"{c.source.model} v{c.source.version}", f"v{c.version}")
                out.append("| " + " | ".join(f"`{v}`" if v else "" for v in row) + " |")
        for ch in ep.plan.changes:
            row = (ep.environment, ch.action, ch.model, ch.alias, _v(ch.before), _v(ch.after))
            out.append("| " + " | ".join(f"`{v}`" for v in row) + " |")
    for w in promos.refused:
        out += ["", f"- :x: soak: `{w.pin}` " + _wait_text(w)]
    for w in promos.overridden:
        out += ["", f"- :warning: soak override for `{w.pin}`: {w.override} (recorded in the audit tag)"]
    return "\n".join(out)


def _wait_text(w: Wait) -> str:
    if w.since is None or w.allowed_at is None:
        return f"promotes {w.source} v{w.version}, which does not hold it yet (soak {duration(w.soak)})"
    left = duration(w.allowed_at - w.now)
    held = f"held since {stamp(w.since)}, allowed from {stamp(w.allowed_at)}"
    return f"promotes {w.source} v{w.version}: {held} ({left} left)"


def as_json(promos: Promotions) -> dict[str, object]:
    return {
        "environments": [
            {
                "environment": ep.environment,
                "copies": [c.as_json() for c in ep.copies],
                "changes": [ch.as_json() for ch in ep.plan.changes],
            }
            for ep in promos.envs
        ],
        "soak": [
            {
                "pin": w.pin,
                "source": w.source,
                "version": w.version,
                "since": w.since,
                "allowed_at": w.allowed_at,
                "override": w.override or None,
            }
            for w in promos.waits
        ],
    }
