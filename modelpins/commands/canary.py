"""canary status|advance: a canary's current step judged on live Prometheus evidence (modelpins.canary)."""

from __future__ import annotations

import functools
import json
import os

import click

from modelpins import pins
from modelpins.audit import canary as audit_canary
from modelpins.canary import argo, edits, run
from modelpins.canary.decide import PROMOTE, Decision
from modelpins.canary.prometheus import Prometheus, url_for
from modelpins.commands.proposing import propose
from modelpins.errors import InvalidInput, OperationFailed
from modelpins.markdown import plan_markdown
from modelpins.proposals import proposal, yamledit
from modelpins.serving.cluster import Cluster
from modelpins.settings import Settings


@click.group()
def canary() -> None:
    """Canary steps on live evidence: `status` judges the current step, `advance` acts on the judgement."""


@functools.cache
def _prometheus(environment: str) -> tuple[Prometheus | None, str]:
    """One client (and one connection pool) per environment for the whole command."""
    url = url_for(environment)
    if url is None:
        var = f"MODELPINS_ENV_{environment.upper().replace('-', '_')}_PROMETHEUS_URL"
        return None, f"no Prometheus configured: set {var} or MODELPINS_PROMETHEUS_URL"
    import requests

    return Prometheus(url, session=requests.Session()), ""


@functools.cache
def _cluster() -> Cluster:
    """The Kubernetes API of KUBECONFIG's current context (or the in-cluster service account)."""
    return Cluster()


def _judge(s: Settings, name: str) -> tuple[yamledit.Source, pins.PinsFile, Decision]:
    source = yamledit.read(s.pins)
    p = pins.loads(source.data, str(s.pins))
    dep = run.canary_of(p, name)
    if argo.uses_argo(dep):  # the controller steps the canary: read where its Rollout stands
        namespace = p.environments[dep.environment].namespace
        return source, p, argo.judge(dep, namespace, _cluster().get(argo.probe(namespace, dep.name)))
    prom, why = _prometheus(dep.environment)
    return source, p, run.evaluate(s.pins, source.text, p, dep, prom, why)


def _show(d: Decision) -> None:
    click.echo(
        f"{d.deployment}: {d.action.upper()} at {d.weight}%"
        + (f" -> {d.to_weight}%" if d.to_weight != d.weight else "")
    )
    click.echo(f"  {d.reason}")
    for line in run.evidence_lines(d):
        click.echo(f"  {line}")


@canary.command()
@click.argument("deployment")
@click.option("--json", "as_json", is_flag=True, help="The decision and its evidence as JSON.")
@click.pass_obj
def status(s: Settings, deployment: str, as_json: bool) -> None:
    """What `advance` would decide for DEPLOYMENT's current step, and the evidence; changes nothing."""
    _, _, d = _judge(s, deployment)
    if as_json:
        click.echo(json.dumps(d.as_json(), indent=2, sort_keys=True))
    else:
        _show(d)


@canary.command()
@click.argument("deployments", nargs=-1)
@click.option("--commit", is_flag=True, help="Commit a weight move on the current branch (the scheduled workflow).")
@click.option("--open-pr", is_flag=True, help="Put the change on a branch and open a pull request.")
@click.pass_obj
def advance(s: Settings, deployments: tuple[str, ...], commit: bool, open_pr: bool) -> None:
    """Judge each DEPLOYMENT's step (default: every canary with an analysis) and act: move the weight to the
    next step, propose the alias move after the last, or set the weight to 0 with the failing values.

    Holds (and exits 1 when it needs a person) when Prometheus cannot be asked, has no data, or too few
    requests; the alias move is always a branch for review. Each decision is recorded on the candidate's
    version in MLflow (with --tracking-uri)."""
    if commit and open_pr:
        raise InvalidInput("pass --commit or --open-pr, not both")
    names = list(deployments) or run.canaries(pins.load(s.pins))
    attention = []
    for name in names:
        d = _advance_one(s, name, commit, open_pr)
        if d.needs_attention:
            attention.append(f"{name}: {d.action}: {d.reason}")
    if attention:
        raise OperationFailed("canary needs attention:\n" + "\n".join(attention))


def _advance_one(s: Settings, name: str, commit: bool, open_pr: bool) -> Decision:
    source, p, d = _judge(s, name)
    dep = p.deployments[name]
    _show(d)
    _record(s, p, d)
    out = run.outcome(d, source.text, p, dep)
    if out is None:
        return d
    if d.action == PROMOTE or open_pr:  # the alias move is always reviewed: a branch and its pull request
        branch = run.branch_for(s.pins, source.text, p, d)
        changes = list(out.changes)
        body = out.message.split("\n\n", 1)[1]
        back = proposal.current_branch(s.pins) if (commit or open_pr) else ""
        if back and proposal.branch_exists(s.pins, branch):  # an earlier run proposed this very step
            click.echo(
                f"  already proposed on branch '{branch}' (its pull request, or the branch kept after closing "
                "it): not proposed again"
            )
            return d
        propose(
            s,
            source,
            out.new_text,
            branch if back else None,
            bool(back),
            out.message,
            out.title,
            lambda base: body + ("\n" + plan_markdown(changes, s.pins.name, base, None) if changes else ""),
        )
    elif commit:
        sha = run.commit_here(source, out.new_text, out.message)
        click.echo(f"committed {sha[:12]}: {out.title}")
    else:
        yamledit.write(source, out.new_text)
        click.echo(f"edited {s.pins} (not committed): {out.title}")
    return d


def _record(s: Settings, p: pins.PinsFile, d: Decision) -> None:
    where = edits.candidate_version(p, p.deployments[d.deployment])
    if not s.tracking_uri or where is None:
        click.echo("  (not recorded in the audit trail: no --tracking-uri / MLFLOW_TRACKING_URI)")
        return
    model, version = where
    actor = os.environ.get("MODELPINS_ACTOR") or os.environ.get("GITHUB_ACTOR") or ""
    record = {**d.as_json(), "actor": actor, "model": model, "version": version}
    s.registry().set_version_tag(model, version, audit_canary.key(d.deployment), audit_canary.value(record))
    click.echo(f"  recorded on {model} v{version}")
