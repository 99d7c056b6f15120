"""The target environment's gates on the versions its aliases move to: on a copy, with the source version's run
(it lives in the source's server). `modelpins gate` runs them before apply (a copy not made yet is gated on its
source version, nothing recorded); apply runs them on each copy and records the evidence on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from modelpins import api
from modelpins.crossenv.model import EnvPlan, Promotions
from modelpins.crossenv.registries import uri
from modelpins.gates import AliasCheck, GateReport
from modelpins.pins import PinsFile
from modelpins.registry import MlflowRegistry


def gate(promos: Promotions, registries: Mapping[str, MlflowRegistry], ctx: Any, *, record: bool = True) -> GateReport:
    """Every environment's gated alias moves, each check named `environment/model@alias`."""
    from modelpins.gates.run import run_gates

    checks: list[AliasCheck] = []
    path = ""
    for ep in promos.envs:
        path = ep.view.path
        copies = {(c.target, c.alias): c for c in ep.copies}
        for ch in ep.plan.changes:
            if ch.after is None:
                continue
            c = copies.get((ch.model, ch.alias))
            versions = dict(ep.plan.versions)
            runs: Any = ep.registry
            if c is not None:
                runs = RunsFrom(ep.registry, registries[c.source.environment])
                if not c.exists and c.source_info is not None:  # the copy will carry the source's run and tags
                    versions[(c.target, c.version)] = replace(c.source_info, model=c.target, version=c.version)
            keep = record and (c is None or c.exists)
            found = run_gates(
                ep.view, [ch], ep.plan.actual, versions, runs, tracking_uri=uri(ep.registry), ctx=ctx, record=keep
            )
            checks += [replace(check, model=f"{ep.environment}/{check.model}") for check in found.checks]
    return GateReport(path, tuple(checks), None, ctx.commit)


def gate_on_apply(ep: EnvPlan, view: PinsFile, registries: Mapping[str, MlflowRegistry], ctx: Any) -> None:
    """The target's gates on every version an alias of the environment moves to, recorded on it as
    `modelpins gate` records them; on a copy with the source version's run (it lives in the source's server)."""
    from modelpins.gates.run import run_gates

    plan = api.make_plan(view, ep.registry)
    copies = {(c.target, c.alias): c for c in ep.copies}
    for ch in plan.changes:
        if ch.after is None or not view.gates_for(ch.model, ch.alias):
            continue
        c = copies.get((ch.model, ch.alias))
        runs = RunsFrom(ep.registry, registries[c.source.environment]) if c else ep.registry
        run_gates(view, [ch], plan.actual, plan.versions, runs, tracking_uri=uri(ep.registry), ctx=ctx)


class RunsFrom:
    """The target registry for everything, but runs read from the source's server (the run lives there)."""

    def __init__(self, target: MlflowRegistry, source: MlflowRegistry):
        self.target, self.source = target, source
        self.reads, self.writes = 0, 0

    def run(self, run_id: str) -> dict[str, Any] | None:
        return self.source.run(run_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)
