"""Drift: where the registry's aliases differ from the pins file (by hand in the UI, a script, a failed apply).

One paged read of the registry's alias state; the comparison is `plan.diff` seen the other
way round: `expected` is the file's version, `actual` the registry's (None: no such alias).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modelpins.errors import InvalidInput, InvalidPins
from modelpins.escape import code, markdown_table, text
from modelpins.pins import PinsFile, loads
from modelpins.plan import diff
from modelpins.proposals import yamledit
from modelpins.text import columns, version


@dataclass(frozen=True)
class Drift:
    model: str
    alias: str
    expected: int | None
    actual: int | None
    line: int = 0

    @property
    def kind(self) -> str:
        if self.actual is None:
            return "missing in registry"
        if self.expected is None:
            return "not in file"
        return "moved"

    def as_json(self) -> dict[str, object]:
        return {"model": self.model, "alias": self.alias, "expected": self.expected, "actual": self.actual}


def drift(pins: PinsFile, actual: Mapping[str, Mapping[str, int]], model: str | None = None) -> list[Drift]:
    """Every alias of the file's models whose registry version differs from the file (optionally one model)."""
    return [
        Drift(c.model, c.alias, c.after, c.before, c.line)
        for c in diff(pins, actual)
        if model is None or c.model == model
    ]


def table(found: list[Drift]) -> str:
    rows = [("MODEL", "ALIAS", "EXPECTED", "ACTUAL", "")]
    rows += [(d.model, d.alias, version(d.expected), version(d.actual), d.kind) for d in found]
    return columns(rows)


def markdown(found: list[Drift], source: str, tracking_uri: str) -> str:
    if not found:
        return f"### Registry drift\n\nNo drift: {text(tracking_uri)} matches {code(source)}.\n"
    n = len(found)
    head = ["model", "alias", "expected (git)", "actual (registry)", ""]
    rows = [[code(d.model), code(d.alias), version(d.expected), version(d.actual), d.kind] for d in found]
    intro = f"{n} alias{'es' if n != 1 else ''} in {text(tracking_uri)} differ from {code(source)}:"
    fix = (
        "To restore git's state: `modelpins drift --fix apply --yes`. To keep the registry's: "
        "`modelpins drift --fix file` and open a pull request."
    )
    return "\n".join(["### Registry drift", "", intro, "", *markdown_table(head, rows), "", fix]) + "\n"


def fix_file(text: str, path: str, found: list[Drift]) -> str:
    """The pins file rewritten to the registry's state for the drifted aliases (exact line edits)."""
    doc = yamledit.Doc(text, path)
    splices = []
    for d in found:
        aliases = doc.aliases(d.model)
        if d.actual is None:
            splices.append(doc.remove_entry(aliases, d.alias, f"aliases of '{d.model}'"))
        elif d.expected is None:
            splices.append(doc.insert_entry(aliases, f"{d.alias}: {d.actual}", f"aliases of '{d.model}'"))
        else:
            node = doc.get(aliases, d.alias)
            assert node is not None
            splices.append(doc.replace(node[1], str(d.actual)))
    for model in dict.fromkeys(d.model for d in found):  # a waiver covers one version; a moved alias drops it
        waivers = doc.get(doc.model(model), "waivers")
        if waivers is None:
            continue
        stale = [k.value for k, _ in waivers[1].value if any(d.model == model and d.alias == k.value for d in found)]
        if stale and len(stale) == len(waivers[1].value):
            splices.append(doc.remove_entry(doc.model(model), "waivers", f"model '{model}'"))
        else:
            splices += [doc.remove_entry(waivers[1], alias, f"waivers of '{model}'") for alias in stale]
    new_text = yamledit.apply(text, splices)
    try:
        loads(new_text, path)
    except InvalidPins as exc:
        raise InvalidInput(
            f"writing the registry's state into {path} would make it invalid (an alias still referenced, "
            f"say); edit it by hand or restore git's state with --fix apply:\n{exc}"
        ) from None
    return new_text
