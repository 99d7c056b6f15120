"""validate, plan, apply."""

from __future__ import annotations

import json
import os
import sys

import click

from modelpins import api, pins
from modelpins.cli import Settings
from modelpins.context import from_env
from modelpins.errors import GateFailed, InvalidInput, OperationFailed
from modelpins.gates import evidence
from modelpins.plan import summary, table


@click.command()
@click.option("--offline", is_flag=True, help="Check the file only, even when a tracking URI is set.")
@click.pass_obj
def validate(s: Settings, offline: bool) -> None:
    """Check the pins file; with a tracking server, also that every pinned version exists and is READY."""
    p = pins.load(s.pins)
    count = len(p.pins())
    if s.tracking_uri and not offline:
        api.validate_live(p, s.registry())
        click.echo(f"{s.pins}: valid; {count} pins across {len(p.models)} models exist in {s.tracking_uri}")
    else:
        click.echo(f"{s.pins}: valid ({count} pins across {len(p.models)} models; registry not checked)")


@click.command()
@click.option("--json", "as_json", is_flag=True, help='Print {"changes": [...]} instead of a table.')
@click.pass_obj
def plan(s: Settings, as_json: bool) -> None:
    """Show the alias changes that apply would make (desired file vs actual registry)."""
    result = api.make_plan(pins.load(s.pins), s.registry())
    if as_json:
        click.echo(json.dumps({"changes": [c.as_json() for c in result.changes]}, indent=2))
        return
    if result.changes:
        click.echo(table(result.changes))
    click.echo(summary(result.changes))


@click.command()
@click.option("--dry-run", is_flag=True, help="Show the plan and write nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--skip-gates", is_flag=True, help="Apply even where gates have not passed; recorded in the audit tags.")
@click.pass_obj
def apply(s: Settings, dry_run: bool, yes: bool, skip_gates: bool) -> None:
    """Make the registry's aliases match the pins file; writes only what differs.

    A move onto a version needs passing results of that alias's gates on the version
    (`modelpins gate`), unless --skip-gates.
    """
    registry = s.registry()
    result = api.make_plan(pins.load(s.pins), registry)
    if not result.changes:
        click.echo(summary(result.changes))
        return
    click.echo(table(result.changes))
    click.echo(summary(result.changes))
    refused = evidence.unproven(result)
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
    if dry_run:
        click.echo("Dry run: nothing written.")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"refusing to apply {len(result.changes)} changes without confirmation; pass --yes")
        click.confirm("Apply these changes?", abort=True)
    ctx = from_env(os.environ, s.pins.resolve().parent)
    outcome = api.apply_plan(result, registry, ctx, extra_audit=evidence.audit_fields(result, refused))
    for c in outcome.applied:
        click.echo(f"applied  {c.model}@{c.alias}: {_v(c.before)} -> {_v(c.after)}")
    if outcome.failed:
        lines = [f"failed   {outcome.failed.model}@{outcome.failed.alias}: {outcome.error}"]
        lines += [f"pending  {c.model}@{c.alias}: {_v(c.before)} -> {_v(c.after)}" for c in outcome.pending[1:]]
        raise OperationFailed(
            f"applied {len(outcome.applied)} of {len(result.changes)} changes, then stopped:\n"
            + "\n".join(lines)
            + "\nRun apply again once the cause is fixed; it continues from the registry's state."
        )
    click.echo(f"Applied {len(outcome.applied)} changes ({registry.writes} registry writes).")


def _v(version: int | None) -> str:
    return "-" if version is None else str(version)
