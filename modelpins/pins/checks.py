"""Checks across sections, on the typed data: what no single section's schema can see."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from modelpins.errors import Problem
from modelpins.pins.data import EnvPin, Gate, ModelPins, ModelRef, PinsFile
from modelpins.pins.names import ANY_ALIAS

Report = Callable[[int, str, str], None]  # (line, message, fix)


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
        _check_ref(pins, known, ref, what, problem)

    for model in pins.models.values():
        check_ref(model.base, f"base of '{model.name}'")
        _check_base_cycle(pins, model, problem)
        _check_waivers(model, problem)
        _check_gates(pins, model, problem)
        _check_baselines(
            f"{model.name} does not pin", _pinned(model), [g for gs in model.gates.values() for g in gs], problem
        )
    everywhere = {a for m in pins.models.values() for a in _pinned(m)}
    _check_baselines(
        "no model of this file pins", everywhere, [g for gs in pins.defaults.values() for g in gs], problem
    )
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
    _check_promotion(pins, problem)
    for model in pins.models.values():
        _check_env_pins(pins, model, problem, known)
    return problems


def _check_ref(pins: PinsFile, known: set[tuple[str, str]], ref: ModelRef | None, what: str, problem: Report) -> None:
    """`ref` names a model of the file and one of its aliases (a model that failed validation is not reported again)."""
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


def _check_gates(pins: PinsFile, model: ModelPins, problem: Report) -> None:
    """Gates are for pinned aliases, and no two gates that apply to one alias share a name."""
    for alias, gates in model.gates.items():
        pinned = alias in model.aliases or any(alias in env for env in model.environments.values())
        if alias != ANY_ALIAS and not pinned:
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


def _check_base_cycle(pins: PinsFile, model: ModelPins, problem: Report) -> None:
    """A model's base is another model, and following bases never comes back to it."""
    chain, step = [model.name], model.base
    while step is not None and step.model in pins.models:
        if step.model == model.name:
            assert model.base is not None
            others = sorted(m.name for m in pins.models.values() if m.kind == "base" and m.name != model.name)
            example = f"{others[0]}@{next(iter(pins.models[others[0]].aliases), 'production')}" if others else ""
            what = "itself" if len(chain) == 1 else "a model based on it: " + " -> ".join([*chain, model.name])
            problem(
                model.base.line,
                f"{model.kind} '{model.name}' names as its base {what}",
                f"name the base model it runs on, e.g. 'base: {example}'"
                if example
                else "pin the base model (kind: base) under models and name it: 'base: <base-model>@<alias>'",
            )
            return
        if step.model in chain:
            return  # a cycle that does not pass through this model: reported at its own models
        chain.append(step.model)
        step = pins.models[step.model].base


def _pinned(model: ModelPins) -> set[str]:
    """The aliases the file pins for `model`, in its own registry or in any environment's."""
    return set(model.aliases).union(*(env.keys() for env in model.environments.values()))


def _check_baselines(unpinned: str, pinned: set[str], gates: Iterable[Gate], problem: Report) -> None:
    """A regression gate's `against` names an alias the file pins: otherwise it would pass with "no baseline"."""
    for gate in gates:
        if gate.kind != "regression" or not gate.against or gate.against in pinned:
            continue
        close = difflib.get_close_matches(gate.against, sorted(pinned), n=1, cutoff=0.6)
        hint = f"did you mean 'against: {close[0]}'? Otherwise " if close else ""
        problem(
            gate.line,
            f"regression gate '{gate.name}' compares against '{gate.against}', an alias {unpinned} "
            "(it would always pass with no baseline)",
            f"{hint}name a pinned alias ({', '.join(sorted(pinned)) or 'none'}), or pin '{gate.against}'",
        )


def _check_promotion(pins: PinsFile, problem: Report) -> None:
    order = pins.promotion.order
    declared = ", ".join(pins.environments) or "(none)"
    for env in dict.fromkeys(e for e in order if e not in pins.environments or order.count(e) > 1):
        what = "twice" if order.count(env) > 1 else "but is not declared under 'environments'"
        problem(pins.promotion.line, f"promotion order names '{env}' {what}", f"list each of: {declared} once")
    for env, line in pins.promotion.soak_lines.items():
        if env not in order:
            problem(line, f"soak time for '{env}', which is not in the promotion order", "add it to 'order' or drop it")


def _check_env_pins(pins: PinsFile, model: ModelPins, problem: Report, known: set[tuple[str, str]]) -> None:
    """Environment pins: declared environments with a registry, sources that exist, no cycle, the order kept."""
    for env, env_pins in model.environments.items():
        declared = pins.environments.get(env)
        if declared is None and ("environments", env) in known:
            continue  # declared, but invalid: its own problem is reported
        first = next(iter(env_pins.values()), None)
        line = first.line if first else model.line
        if declared is None:
            problem(line, f"'{model.name}' pins aliases in environment '{env}' that is not declared", _declare(env))
        elif declared.registry is None:
            problem(
                line,
                f"'{model.name}' pins aliases in environment '{env}', which names no registry",
                f"add 'registry: {{model: \"{env}.{{model}}\"}}' (and/or 'tracking_uri') to environments.{env}",
            )
        for pin in env_pins.values():
            _check_source(pins, model, pin, problem)


def _declare(env: str) -> str:
    return f"declare it under 'environments' with a 'registry', or fix the name '{env}'"


def _check_source(pins: PinsFile, model: ModelPins, pin: EnvPin, problem: Report) -> None:
    here = f"{model.name}@{pin.alias} in {pin.environment}"
    before = pins.promotion.previous(pin.environment)
    src = pin.promote_from
    if src is None:
        if before is not None:
            problem(
                pin.line,
                f"{here} pins a version directly, but the promotion order puts '{before}' before '{pin.environment}'",
                f"write '{pin.alias}: {{promote_from: {before}@{pin.alias}}}' so the version comes from {before}",
            )
        return
    if src.environment not in pins.environments:
        problem(
            src.line,
            f"{here}: promote_from names environment '{src.environment}', which is not declared",
            _declare(src.environment),
        )
        return
    source_pins = model.environments.get(src.environment, {})
    if src.alias not in source_pins:
        have = ", ".join(source_pins) or "(none)"
        problem(
            src.line,
            f"{here}: promote_from {src}, but '{model.name}' pins no alias '{src.alias}' in {src.environment}",
            f"pin it under models.{model.name}.environments.{src.environment}, or use one of: {have}",
        )
        return
    seen = [(pin.environment, pin.alias)]
    step: EnvPin | None = source_pins[src.alias]
    while step is not None and step.promote_from is not None:
        if (step.environment, step.alias) in seen:
            chain = " -> ".join(f"{e}@{a}" for e, a in [*seen, (step.environment, step.alias)])
            problem(src.line, f"{here}: promote_from goes round in a cycle: {chain}", "make one of them a version")
            return
        seen.append((step.environment, step.alias))
        nxt = step.promote_from
        step = model.environments.get(nxt.environment, {}).get(nxt.alias)
    if before is not None and src.environment != before:
        problem(
            src.line,
            f"{here}: promote_from {src}, but the promotion order puts '{before}' right before '{pin.environment}'",
            f"promote from {before}@{src.alias}, or change 'promotion.order'",
        )


def _check_waivers(model: ModelPins, problem: Report) -> None:
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
