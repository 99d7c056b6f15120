"""The generated section of CODEOWNERS: who reviews the pins file and each model's manifests.

CODEOWNERS assigns reviewers by path, so it cannot tell one model's lines in the pins
file from another's. The section maps the pins file to its file-level owners and each
deployment's rendered manifests (`<manifests>/<environment>/<deployment>/`) to the owners
of the models it serves; `modelpins approvals` checks the per-model owners of a change.
Lines outside the BEGIN/END markers are kept as they are.
"""

from __future__ import annotations

from modelpins.errors import InvalidPins, Problem
from modelpins.pins import PinsFile

BEGIN = "# BEGIN modelpins"
END = "# END modelpins"


def section(pins: PinsFile, pins_rel: str, manifests: str = "manifests") -> str:
    file_owners = pins.owners or _union(m.owners for m in pins.models.values())
    lines = [
        BEGIN,
        f"# Generated from {pins_rel} by `modelpins codeowners`; change owners there, then rerun it.",
    ]
    if file_owners:
        lines.append(f"/{pins_rel} {' '.join(file_owners)}")
    for dep in pins.deployments.values():
        refs = [ref for entry in dep.serve + dep.strategy.candidate for ref in entry.refs()]
        owners = _union(pins.models[r.model].owners for r in refs if r.model in pins.models)
        if owners:
            lines.append(f"/{manifests.strip('/')}/*/{dep.name}/ {' '.join(owners)}")
    for model in pins.models.values():
        if model.owners:
            lines.append(f"# model {model.name}: {' '.join(model.owners)} (checked by `modelpins approvals`)")
    lines.append(END)
    return "\n".join(lines) + "\n"


def _union(groups: object) -> tuple[str, ...]:
    out: list[str] = []
    for group in groups:  # type: ignore[attr-defined]
        out += [o for o in group if o not in out]
    return tuple(out)


def update(existing: str, new_section: str, path: str = "CODEOWNERS") -> str:
    """`existing` with its modelpins section replaced by `new_section` (appended when absent).

    Appended at the end, because in CODEOWNERS the last matching pattern wins.
    """
    lines = existing.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.strip().startswith(BEGIN)]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not begins and not ends:
        sep = "" if not existing or existing.endswith("\n\n") else "\n" if existing.endswith("\n") else "\n\n"
        return existing + sep + new_section
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        line = (begins or ends)[0] + 1
        raise InvalidPins(
            [
                Problem(
                    path,
                    line,
                    f"the '{BEGIN}' / '{END}' markers are not one matching pair",
                    "keep exactly one BEGIN line followed by one END line, or delete both and rerun",
                )
            ]
        )
    return "".join(lines[: begins[0]]) + new_section + "".join(lines[ends[0] + 1 :])
