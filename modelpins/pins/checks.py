"""Checks across sections, on the typed data: what no single section's schema can see."""

from __future__ import annotations

from collections.abc import Callable

from modelpins.errors import Problem
from modelpins.pins.data import ANY_ALIAS, Gate, ModelPins, ModelRef, PinsFile


def cross_check(pins: PinsFile, known: set[tuple[str, str]] | None = None) -> list[Problem]:
    """References between sections: bases, served models, environments, waivers, gate names.

    `known` holds the (section, name) of entries the file declares but that failed validation
    and so are missing from `pins`: references to them are not reported again.
    """
    problems: list[Problem] = []
    known = known or set()

    def problem(line: int, message: str, fix: str) -> None:
        problems.append(Problem(pins.path, line, message, fix))

    def check_ref(ref: ModelRef | None, what: str) -> None:
        if ref is None:
            return
        target = pins.models.get(ref.model)
        if target is None and ("models", ref.model) in known:
            return
        if target is None:
            problem(
                ref.line,
                f"{what} '{ref}' names a model this file does not pin",
                f"add '{ref.model}' under models, or fix the name",
            )
        elif ref.alias not in target.aliases:
            problem(
                ref.line,
                f"{what} '{ref}': '{ref.model}' has no alias '{ref.alias}' in this file",
                f"pin it under models.{ref.model}.aliases, or use one of: {', '.join(target.aliases) or '(none)'}",
            )

    for model in pins.models.values():
        check_ref(model.base, f"base of '{model.name}'")
        _check_waivers(model, problem)
        for alias, gates in model.gates.items():
            if alias != ANY_ALIAS and alias not in model.aliases:
                problem(
                    gates[0].line if gates else model.line,
                    f"gates for '{model.name}@{alias}', but '{alias}' is not pinned for it",
                    "pin the alias or remove its gates",
                )
        for alias in model.aliases:
            seen: dict[str, Gate] = {}
            for gate in model.gates_for(alias, pins.defaults):
                if gate.name in seen:
                    problem(
                        gate.line,
                        f"two gates named '{gate.name}' apply to {model.name}@{alias} "
                        f"(the other on line {seen[gate.name].line})",
                        "give one of them a distinct 'name:'",
                    )
                seen.setdefault(gate.name, gate)
    for dep in pins.deployments.values():
        if (
            dep.environment
            and dep.environment not in pins.environments
            and ("environments", dep.environment) not in known
        ):
            problem(
                dep.line,
                f"deployment '{dep.name}' names environment '{dep.environment}' that is not declared",
                "add it under 'environments:'",
            )
        for entry in dep.serve + dep.strategy.candidate:
            for ref in entry.refs():
                check_ref(ref, f"deployment '{dep.name}' serves")

    return problems


def _check_waivers(model: ModelPins, problem: Callable[[int, str, str], None]) -> None:
    """A waiver holds only while its alias is pinned to the version it names."""
    for alias, waiver in model.waivers.items():
        pin = model.aliases.get(alias)
        if pin is None:
            problem(
                waiver.line,
                f"waiver for '{model.name}@{alias}', but '{alias}' is not pinned for it",
                "remove the waiver",
            )
        elif waiver.version != pin.version:
            problem(
                waiver.line,
                f"waiver for {model.name}@{alias} names version {waiver.version}, "
                f"but the alias is pinned to {pin.version}",
                f"remove the waiver: it covered the rollback to version {waiver.version} only",
            )
