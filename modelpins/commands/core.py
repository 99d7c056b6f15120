"""plan, apply (validate is in commands/validate.py: it must start fast)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from modelpins import api, github, pins, report
from modelpins.applylock import ApplyLock
from modelpins.cli import Settings
from modelpins.context import from_env
from modelpins.errors import GateFailed, InvalidInput, OperationFailed
from modelpins.gates import evidence
from modelpins.plan import summary, table
from modelpins.registry import MlflowRegistry


@click.command()
@click.option("--json", "as_json", is_flag=True, help='Print {"changes": [...]} instead of a table.')
@click.option("--base", metavar="REF", help="Show what the file changes relative to git REF (a PR's base branch).")
@click.option(
    "--markdown", "markdown", type=click.Path(dir_okay=False), help="Also write the plan as markdown to FILE."
)
@click.option("--summary", "to_summary", is_flag=True, help="Also append the markdown plan to the GitHub job summary.")
@click.pass_obj
def plan(s: Settings, as_json: bool, base: str | None, markdown: str | None, to_summary: bool) -> None:
    """Show the alias changes that apply would make (desired file vs actual registry).

    With --base REF: the changes the file makes relative to REF; with a tracking URI as well,
    the registry's current version of each moved alias, and a check that every target exists.
    """
    head = pins.load(s.pins)
    registry: dict[str, dict[str, int]] | None
    if base:
        changes, registry, _ = api.plan_against_base(
            head, pins.load_at(s.pins, base), s.registry() if s.tracking_uri else None
        )
    else:
        result = api.make_plan(head, s.registry())
        changes, registry = result.changes, None
    if markdown or to_summary:
        text = report.plan_markdown(changes, str(s.pins), base, registry)
        if markdown:
            Path(markdown).write_text(text + "\n", encoding="utf-8")
        if to_summary:
            github.step_summary(text)
    if as_json:
        click.echo(json.dumps(report.plan_json(changes, base, registry), indent=2))
        return
    if changes:
        click.echo(table(changes))
    click.echo(report.plan_footer(changes, base, registry) if base else summary(changes))


@click.command()
@click.option("--dry-run", is_flag=True, help="Show the plan and write nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--skip-gates", is_flag=True, help="Apply even where gates have not passed; recorded in the audit tags.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=300,
    show_default=True,
    help="Seconds to wait while another apply holds the registry's apply lock.",
)
@click.pass_obj
def apply(s: Settings, dry_run: bool, yes: bool, skip_gates: bool, lock_timeout: float) -> None:
    """Make the registry's aliases match the pins file; writes only what differs.

    A move onto a version needs passing results of that alias's gates on the version
    (`modelpins gate`), unless --skip-gates. Writes happen under the registry's apply lock,
    and the plan is made (and checked) again once it is held, so two applies never
    interleave and the second one starts from the first one's result.
    """
    registry = s.registry()
    desired = pins.load(s.pins)
    result = api.make_plan(desired, registry)
    if not result.changes:
        click.echo(summary(result.changes))
        return
    click.echo(table(result.changes))
    click.echo(summary(result.changes))
    refused = _preflight(s, result, registry, skip_gates)
    if dry_run:
        click.echo("Dry run: nothing written.")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"refusing to apply {len(result.changes)} changes without confirmation; pass --yes")
        click.confirm("Apply these changes?", abort=True)
    ctx = from_env(os.environ, s.pins.resolve().parent)
    lock = ApplyLock(
        registry,
        ctx.actor,
        timeout=lock_timeout,
        ttl=float(os.environ.get("MODELPINS_LOCK_TTL", 600)),
        notify=lambda message: click.echo(message, err=True),
    )
    lock.acquire()
    try:
        current = api.make_plan(desired, registry)
        if current.changes != result.changes:
            if not yes:
                raise OperationFailed("the registry changed since the plan you confirmed; run apply again to see it")
            click.echo("The registry changed while waiting for the apply lock; the plan now is:")
            if current.changes:
                click.echo(table(current.changes))
            click.echo(summary(current.changes))
            refused = _preflight(s, current, registry, skip_gates)
        outcome = api.apply_plan(current, registry, ctx, extra_audit=evidence.audit_fields(current, refused))
    finally:
        _release(lock)
    github.step_summary(report.apply_markdown(outcome.applied, outcome.failed, outcome.error, outcome.pending))
    for c in outcome.applied:
        click.echo(f"applied  {c.model}@{c.alias}: {_v(c.before)} -> {_v(c.after)}")
    if outcome.failed:
        lines = [f"failed   {outcome.failed.model}@{outcome.failed.alias}: {outcome.error}"]
        lines += [f"pending  {c.model}@{c.alias}: {_v(c.before)} -> {_v(c.after)}" for c in outcome.pending]
        raise OperationFailed(
            f"applied {len(outcome.applied)} of {len(current.changes)} changes, then stopped:\n"
            + "\n".join(lines)
            + "\nRun apply again once the cause is fixed; it continues from the registry's state."
        )
    click.echo(f"Applied {len(outcome.applied)} changes ({registry.writes} registry writes).")


def _preflight(s: Settings, plan: api.Plan, registry: MlflowRegistry, skip_gates: bool) -> list[evidence.Refusal]:
    """Checks before any write: artefacts match model_pins.lock; gate evidence. Returns the moves --skip-gates skips."""
    from modelpins.lifecycle import lock  # model_pins.lock, when present: refuse targets whose artefacts changed

    lock.enforce(s.pins, plan.pins, registry, [(c.model, c.after) for c in plan.changes if c.after is not None])
    refused = evidence.unproven(plan)
    if refused and not skip_gates:
        count = len(refused)
        raise GateFailed(
            f"refusing to apply: {count} alias move{'s' if count != 1 else ''} without passing gates:\n"
            + "\n".join(f"  {r}" for r in refused)
            + "\nfix: run `modelpins gate` and fix what fails, then apply again "
            "(or pass --skip-gates to override; it is recorded in the audit tags)"
        )
    for r in refused:
        click.secho(f"warning: gates skipped for {r} (recorded in the audit tag)", fg="yellow", err=True)
    return refused


def _release(lock: ApplyLock) -> None:
    try:
        lock.release()
    except OperationFailed as exc:
        click.echo(
            f"warning: could not release the apply lock ({exc}); the next apply breaks it "
            "once its holder's process is gone or its expiry has passed",
            err=True,
        )


def _v(version: int | None) -> str:
    return "-" if version is None else str(version)
