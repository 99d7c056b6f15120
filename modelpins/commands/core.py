"""validate, plan, apply."""

from __future__ import annotations

import json
import os
import sys

import click

from modelpins import api, pins
from modelpins.applylock import ApplyLock
from modelpins.cli import Settings
from modelpins.context import from_env
from modelpins.errors import InvalidInput, OperationFailed
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
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=300,
    show_default=True,
    help="Seconds to wait while another apply holds the registry's apply lock.",
)
@click.pass_obj
def apply(s: Settings, dry_run: bool, yes: bool, lock_timeout: float) -> None:
    """Make the registry's aliases match the pins file; writes only what differs.

    Writes happen under the registry's apply lock, and the plan is made again once it is held,
    so two applies never interleave and the second one starts from the first one's result.
    """
    registry = s.registry()
    desired = pins.load(s.pins)
    result = api.make_plan(desired, registry)
    if not result.changes:
        click.echo(summary(result.changes))
        return
    click.echo(table(result.changes))
    click.echo(summary(result.changes))
    if dry_run:
        click.echo("Dry run: nothing written.")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"refusing to apply {len(result.changes)} changes without confirmation; pass --yes")
        click.confirm("Apply these changes?", abort=True)
    ctx = from_env(os.environ, s.pins.resolve().parent)
    lock = ApplyLock(
        s.registry(),
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
        outcome = api.apply_plan(current, registry, ctx)
    finally:
        _release(lock)
    for c in outcome.applied:
        click.echo(f"applied  {c.model}@{c.alias}: {_v(c.before)} -> {_v(c.after)}")
    if outcome.failed:
        lines = [f"failed   {outcome.failed.model}@{outcome.failed.alias}: {outcome.error}"]
        lines += [f"pending  {c.model}@{c.alias}: {_v(c.before)} -> {_v(c.after)}" for c in outcome.pending[1:]]
        raise OperationFailed(
            f"applied {len(outcome.applied)} of {len(current.changes)} changes, then stopped:\n"
            + "\n".join(lines)
            + "\nRun apply again once the cause is fixed; it continues from the registry's state."
        )
    click.echo(f"Applied {len(outcome.applied)} changes ({registry.writes} registry writes).")


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
