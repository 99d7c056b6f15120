"""Property: any valid pins file survives save (pins.dump) and load (pins.loads) unchanged."""

from __future__ import annotations

import string
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelpins import pins
from modelpins.pins import (
    ALIAS_RE,
    AliasPin,
    Deployment,
    Environment,
    Gate,
    Images,
    ModelPins,
    ModelRef,
    PinsFile,
    Resources,
    ServeEntry,
    Strategy,
    Waiver,
    alias_problem,
)

ALNUM = string.ascii_letters + string.digits
model_names = st.text(ALNUM, min_size=1, max_size=1).flatmap(
    lambda first: st.text(ALNUM + "._-", max_size=20).map(lambda rest: first + rest)
)
alias_names = st.text(ALNUM + "_-", min_size=1, max_size=12).filter(
    lambda a: ALIAS_RE.fullmatch(a) is not None and alias_problem(a) is None
)
k8s_names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True)
owners = st.lists(st.sampled_from(["@acme/risk-ml", "@octocat", "ml@acme.example", "@acme-inc/llm.team"]), max_size=2)
# free text: anything printable YAML can carry, including non-ASCII, quotes, colons and leading dashes
text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff\x85\u2028\u2029"), min_size=1
).filter(lambda s: s.strip() == s)
numbers = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False) | st.integers(
    -1000, 1000
).map(float)


gateways = st.builds(lambda ns, name: f"{ns}/{name}", k8s_names, k8s_names)
hostnames = st.lists(k8s_names, min_size=1, max_size=3).map(".".join)
quantities = st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,2})?(Ki|Mi|Gi|m|k|M|G)?", fullmatch=True)
gate_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True)


@st.composite
def gates(draw: st.DrawFn, baselines: tuple[str, ...] = ()) -> Gate:
    """A valid gate; a regression gate's `against` is one of `baselines` (aliases the file pins) or none."""
    kind = draw(st.sampled_from(["threshold", "safety", "regression", "latency", "command"]))
    name = draw(gate_names)
    if kind in ("threshold", "safety"):
        bounds = draw(st.lists(numbers, min_size=1, max_size=2).map(sorted))
        lo, hi = (
            (bounds[0], bounds[-1])
            if len(bounds) == 2
            else draw(st.sampled_from([(bounds[0], None), (None, bounds[0])]))
        )
        if kind == "threshold":
            return Gate(kind, name, metric=draw(text), min=lo, max=hi)
        if draw(st.booleans()):  # a logged score, or a script computing it: one of the two
            return Gate(kind, name, metric=draw(text), min=lo, max=hi)
        run = tuple(draw(st.lists(text, min_size=1, max_size=3)))
        return Gate(kind, name, min=lo, max=hi, run=run, timeout=draw(st.floats(0.1, 3600)))
    if kind == "regression":
        return Gate(
            kind,
            name,
            metric=draw(text),
            tolerance=draw(st.floats(0, 1e6)),
            against=draw(st.none() | st.sampled_from(baselines)) if baselines else None,
            higher_is_better=draw(st.booleans()),
        )
    if kind == "latency":
        if draw(st.booleans()):  # measured against an endpoint
            return Gate(
                kind,
                name,
                endpoint="http://127.0.0.1:8000/v1",
                body=draw(st.none() | text),
                max=draw(st.floats(0, 1e6)),
                requests=draw(st.integers(1, 100_000)),
                percentile=draw(st.floats(1, 100)),
                timeout=draw(st.floats(0.1, 3600)),
            )
        return Gate(kind, name, metric=draw(text), max=draw(st.floats(0, 1e6)))
    return Gate(kind, name, run=tuple(draw(st.lists(text, min_size=1, max_size=3))), timeout=draw(st.floats(0.1, 3600)))


def numbered(table: dict[str, tuple[Gate, ...]], prefix: str) -> dict[str, tuple[Gate, ...]]:
    """Gate names made unique across the file: two gates applying to one alias may not share a name."""
    return {
        alias: tuple(replace(g, name=f"{prefix}{alias.strip('*') or 'all'}{i}-{g.name}"[:64]) for i, g in enumerate(gs))
        for alias, gs in table.items()
    }


@st.composite
def pins_files(draw: st.DrawFn) -> PinsFile:
    names = draw(st.lists(model_names, min_size=1, max_size=5, unique_by=str.lower))
    models: dict[str, ModelPins] = {}
    refs: list[ModelRef] = []
    for name in names:
        aliases = draw(st.lists(alias_names, max_size=4, unique_by=str.lower))
        pinned = {a: AliasPin(a, draw(st.integers(1, 2**31 - 1))) for a in aliases}
        kind = draw(st.sampled_from(["model", "base", "adapter", "prompts"]))
        base = draw(st.sampled_from(refs)) if refs and (kind == "adapter" or draw(st.booleans())) else None
        if kind == "adapter" and base is None:
            kind = "model"
        gate_keys = draw(st.lists(st.sampled_from(["*", *aliases]), unique=True, max_size=2))
        models[name] = ModelPins(
            name=name,
            aliases=pinned,
            kind=kind,
            base=base,
            owners=tuple(draw(owners)),
            description=draw(st.just("") | text),
            limitations=draw(st.just("") | text),
            gates=numbered(
                {k: tuple(draw(st.lists(gates(tuple(aliases)), max_size=2))) for k in gate_keys}, f"m{len(models)}"
            ),
            waivers={
                a: Waiver(a, pinned[a].version, draw(text))
                for a in draw(
                    st.lists(st.sampled_from(sorted(pinned)), unique=True, max_size=1) if pinned else st.just([])
                )
            },
        )
        refs += [ModelRef(name, a) for a in aliases]
    envs = {
        n: Environment(n, draw(k8s_names), draw(st.none() | gateways), tuple(draw(st.lists(hostnames, max_size=2))))
        for n in draw(st.lists(k8s_names, max_size=2, unique=True))
    }
    deployments: dict[str, Deployment] = {}
    if envs and refs:
        entry = st.builds(
            ServeEntry,
            model=st.sampled_from(refs),
            adapter=st.none() | st.sampled_from(refs),
            prompts=st.none() | st.sampled_from(refs),
            served_name=st.none() | text,
        )
        serve = st.lists(entry, min_size=1, max_size=2).map(tuple)
        for n in draw(st.lists(k8s_names, max_size=3, unique=True)):
            kind = draw(st.sampled_from(["rolling", "blue-green", "canary", "shadow", "ab"]))
            steps = tuple(sorted(draw(st.sets(st.integers(1, 100), max_size=3)))) if kind == "canary" else ()
            weight = draw(st.sampled_from(steps) if steps else st.integers(0, 100)) if kind in ("canary", "ab") else 0
            active = draw(st.sampled_from(["blue", "green"])) if kind == "blue-green" else "blue"
            strategy = Strategy(kind, draw(serve) if kind != "rolling" else (), weight, steps, active)
            deployments[n] = Deployment(
                name=n,
                environment=draw(st.sampled_from(sorted(envs))),
                serve=draw(serve),
                strategy=strategy,
                replicas=draw(st.integers(1, 1000)),
                resources=Resources(draw(st.integers(0, 64)), draw(quantities), draw(quantities)),
                vllm_args=tuple(draw(st.lists(text, max_size=3))),
                artifacts=draw(st.sampled_from(["init", "image"])),
                port=draw(st.integers(1, 65535)),
            )
    images = Images(
        registry=draw(st.none() | st.just("registry.acme.example/ml")),
        base=draw(st.none() | st.just("vllm/vllm-openai@sha256:" + "a" * 64)),
        classic_base=draw(st.none() | st.just("python:3.12-slim@sha256:" + "b" * 64)),
    )
    defaults = numbered(
        {
            k: tuple(draw(st.lists(gates(tuple(r.alias for r in refs)), max_size=2)))
            for k in draw(st.lists(alias_names, max_size=2, unique=True))
        },
        "d",
    )
    return PinsFile("model_pins.yaml", models, tuple(draw(owners)), defaults, envs, deployments, images)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pins_files())
def test_valid_pins_round_trip_through_dump_and_load(p: PinsFile) -> None:
    text = pins.dump(p)
    assert pins.loads(text, p.path) == p
    assert pins.dump(pins.loads(text, p.path)) == text  # canonical: saving again changes nothing


def test_the_repository_pins_file_round_trips() -> None:
    p = pins.load(Path(__file__).resolve().parents[2] / "model_pins.yaml")
    assert pins.loads(pins.dump(p), p.path) == p
