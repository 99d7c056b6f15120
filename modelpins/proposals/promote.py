"""Promote: point MODEL@ALIAS at a version in the pins file, checked against the registry first. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from modelpins import markdown
from modelpins.errors import InvalidPins, Problem
from modelpins.pins import PinsFile
from modelpins.plan import Change
from modelpins.registry import VersionInfo
from modelpins.text import did_you_mean


def check_target(
    p: PinsFile, model: str, alias: str, version: int, versions: Mapping[tuple[str, int], VersionInfo]
) -> VersionInfo:
    """The version to promote, from `versions` (all of the model's); InvalidPins unless it exists and is READY."""
    m = p.models.get(model)
    pin = m.aliases.get(alias) if m else None
    line = pin.line if pin else (m.line if m else 0)  # a model not yet in the file has no line
    info = versions.get((model, version))
    have = sorted(n for name, n in versions if name == model)
    if info is None:
        if not have:
            message = f"registered model '{model}' has no versions in MLflow{did_you_mean(model, p.models)}"
            fix = "register it first, or fix the name"
        else:
            message = f"version {version} of '{model}' does not exist in MLflow"
            fix = f"promote an existing version (newest: {', '.join(map(str, have[-10:]))})"
        raise InvalidPins([Problem(p.path, line, message, fix)])
    if info.status != "READY":
        raise InvalidPins(
            [
                Problem(
                    p.path,
                    line,
                    f"version {version} of '{model}' is {info.status}, not READY",
                    "wait for registration to finish, or promote another version",
                )
            ]
        )
    return info


def title(change: Change) -> str:
    was = f"from {change.before}" if change.before is not None else "new alias"
    return f"Promote {change.model}@{change.alias} to version {change.after} ({was})"


def commit_message(change: Change) -> str:
    trailer = f"Modelpins-Promote: {change.model}@{change.alias} {change.before or '-'} -> {change.after}"
    return f"{title(change)}\n\n{trailer}\n"


def pr_body(change: Change, pins_path: str, base: str, card: markdown.Card | None, gated: bool) -> str:
    """The pull request's text: the plan relative to its base and a link to the version's model card."""
    out = [markdown.plan_markdown([change], pins_path, base, None), ""]
    if card is None:
        pass
    elif card.attached:
        out.append(f"Model card: [{change.model} v{change.after}]({card.url})")
    else:
        out.append(
            f"Model card: none attached yet (`modelpins card {change.model}@{change.alias}`); "
            f"[version page]({card.url})"
        )
    out += ["", "Gates passed locally (`modelpins promote --gate`)." if gated else "Gates run in the pull request."]
    return "\n".join(out) + "\n"
