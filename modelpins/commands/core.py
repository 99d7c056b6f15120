"""plan, apply (validate is in commands/validate.py: it must start fast)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from modelpins import actions, api, crossenv, envvars, markdown, pins, progress, safe_write, write
from modelpins.audit import head, rollbacks
from modelpins.audit.head import HeadGuard
from modelpins.commands.params import FiniteFloat
from modelpins.context import Context, from_env
from modelpins.errors import InvalidInput, ModelPinsError, OperationFailed
from modelpins.plan import Change, served_by, summary, table
from modelpins.redact import redact
from modelpins.registry import DEFAULT_PARALLEL, MAX_PARALLEL, MlflowRegistry
from modelpins.registry_mutex import MIN_TTL as MIN_LOCK_TTL
from modelpins.settings import Settings
from modelpins.text import version


@click.command()
@click.option("--json", "as_json", is_flag=True, help='Print {"changes": [...]} instead of a table.')
@click.option("--base", metavar="REF", help="Show what the file changes relative to git REF (a PR's base branch).")
@click.option(
    "--markdown", "markdown_file", type=click.Path(dir_okay=False), help="Also write the plan as markdown to FILE."
)
@click.option("--summary", "to_summary", is_flag=True, help="Also append the markdown plan to the GitHub job summary.")
@click.pass_obj
def plan(s: Settings, as_json: bool, base: str | None, markdown_file: str | None, to_summary: bool) -> None:
    """Show the alias changes that apply would make (desired file vs actual registry).

    With --base REF: the changes the file makes relative to REF; with a tracking URI as well,
    the registry's current version of each moved alias, and a check that every target exists.
    """
    head = pins.load(s.pins)
    live = command_registry(s, head, base)
    envs = crossenv.from_settings(head, s.tracking_uri, s.registry, checked=[live.tracking_uri] if live else [])
    changes, registry = _changes(s, head, base, live)
    if markdown_file or to_summary:
        text = markdown.plan_markdown(changes, str(s.pins), base, registry)
        text += "\n\n" + crossenv.markdown(envs[0]) if envs else ""
        if markdown_file:
            safe_write.write_file(Path(markdown_file), redact(text) + "\n", "--markdown-file")
        if to_summary:
            actions.step_summary(text)
    if as_json:
        found = markdown.plan_json(changes, base, registry) | (crossenv.as_json(envs[0]) if envs else {})
        click.echo(json.dumps(found, indent=2))
        if envs:
            crossenv.enforce_soak(envs[0])
        return
    if not envs or crossenv.has_default_pins(head):
        _show_plan(s, head, changes, base, registry)
    if envs:
        shown = crossenv.table(envs[0])
        if shown:
            click.echo("\n" + shown)
        click.echo(crossenv.summary(envs[0]))
        crossenv.enforce_soak(envs[0])


def command_registry(s: Settings, p: pins.PinsFile, base: str | None = None) -> MlflowRegistry | None:
    """The command's registry when plan or apply reads it (the file pins aliases there, or --base compares with it
    when a tracking URI is given), its server's version checked before anything else; None when neither reads it."""
    environments_only = bool(crossenv.pinned_environments(p)) and not crossenv.has_default_pins(p)
    if (base and not s.tracking_uri) or (not base and environments_only):
        return None
    registry = s.registry()
    registry.check_server()
    return registry


def _changes(
    s: Settings, head: pins.PinsFile, base: str | None, live: MlflowRegistry | None
) -> tuple[list[Change], dict[str, dict[str, int]] | None]:
    """The plan's changes, and with --base and a registry the registry's aliases (the moves' `now`)."""
    if base:
        changes, registry, _ = api.plan_against_base(head, pins.load_at(s.pins, base), live)
        return changes, registry
    if live is None:  # the file pins aliases in environments only
        return [], None
    return api.make_plan(head, live).changes, None


def _show_plan(
    s: Settings,
    head: pins.PinsFile,
    changes: list[Change],
    base: str | None,
    registry: dict[str, dict[str, int]] | None,
) -> None:
    if changes:
        click.echo(table(changes))
        from modelpins.commands.serving import locked_artefacts

        locked = locked_artefacts(s.pins)
        serving = served_by(head, changes, locked.layouts if locked else None)
        if serving:
            click.echo("\n" + serving)
    click.echo(markdown.plan_footer(changes, base, registry) if base else summary(changes))


@click.command()
@click.option("--dry-run", is_flag=True, help="Show the plan and write nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--skip-gates", is_flag=True, help="Apply even where gates have not passed; recorded in the audit tags.")
@click.option(
    "--lock-timeout",
    type=FiniteFloat(min=0),
    default=300,
    show_default=True,
    help="Seconds to wait while another apply holds the registry's apply lock.",
)
@click.option(
    "--parallel",
    type=click.IntRange(1, MAX_PARALLEL),
    default=DEFAULT_PARALLEL,
    show_default=True,
    help="Changes in flight at once (1: one after the other, in plan order). Each change still writes its audit "
    "record once its alias moved, every set and move finishes before the first delete, and the first failure stops "
    "new changes from starting.",
)
@click.option(
    "--allow-older",
    is_flag=True,
    help="Apply a commit older than (or unrelated to) the one the branch last applied: a deliberate emergency "
    "only, with --reason (recorded in each audit record). A rollback is normally a new commit (`rollback`).",
)
@click.option("--reason", metavar="TEXT", help="Why --allow-older is used; recorded in the audit records.")
@click.pass_obj
def apply(
    s: Settings,
    dry_run: bool,
    yes: bool,
    skip_gates: bool,
    lock_timeout: float,
    parallel: int,
    allow_older: bool,
    reason: str | None,
) -> None:
    """Make the registry's aliases match the pins file; writes only what differs.

    A move onto a version needs passing results of that alias's gates on the version
    (`modelpins gate`), unless --skip-gates. Writes happen under the registry's apply lock,
    and the plan is made (and checked) again once it is held, so two applies never
    interleave and the second one starts from the first one's result. A commit older than
    (or unrelated to) the one the branch last applied is refused: apply the branch head.
    """
    _older_needs_reason(allow_older, reason)
    ttl = envvars.number("MODELPINS_LOCK_TTL", 600, MIN_LOCK_TTL, 86400)  # settings first: nothing read yet
    from_env(os.environ, s.pins.resolve().parent)  # MODELPINS_ACTOR, _COMMIT, _PR checked before any request
    from modelpins.integrity.artefact_lock import verify_mode

    verify_mode()
    desired = pins.load(s.pins)
    registry = command_registry(s, desired)  # None: the file pins aliases in environments only
    envs = crossenv.from_settings(
        desired, s.tracking_uri, s.registry, checked=[registry.tracking_uri] if registry else []
    )
    ctx = from_env(os.environ, s.pins.resolve().parent, pins=s.pins)
    guards = head_guards(s, registry, envs[1] if envs else {}, ctx, reason if allow_older else None)
    for g in {id(g): g for g in guards.values()}.values():
        g.check()  # a stale run stops here, before it plans or writes anything in any registry
    env_guards = {name: g for name, g in guards.items() if name is not None}

    def environments() -> None:
        if envs:
            apply_environments(s, envs, ctx, env_guards, dry_run, yes, skip_gates, lock_timeout, ttl)

    if registry is None:
        environments()
        return
    guard = guards.get(None)
    result = api.make_plan(desired, registry)
    if not result.changes:
        click.echo(summary(result.changes))
        if guard and not dry_run:
            guard.record()
        environments()
        return
    click.echo(table(result.changes))
    click.echo(summary(result.changes))
    for r in write.preflight(s.pins, result, registry, skip_gates):
        click.secho(f"warning: gates skipped for {r} (recorded in the audit tag)", fg="yellow", err=True)
    if dry_run:
        click.echo("Dry run: nothing written.")
        return
    _confirm(yes, len(result.changes))
    since = guard.previous.commit if guard and guard.previous else None
    asked = set() if ctx.dirty else rollbacks.asked(s.pins, ctx.commit, since)  # moves a rollback commit asked for
    with progress.shown("apply", len(result.changes)) as step:
        request = write.MoveRequest(
            s.pins,
            desired,
            confirmed=result.changes,
            accept_changed=yes,
            skip_gates=skip_gates,
            lock_timeout=lock_timeout,
            lock_ttl=ttl,
            parallel=parallel,
            reason=reason if allow_older else None,
            audit_extra=rollbacks.audit_fields(asked),
            report=write.Report(notify=lambda message: click.echo(message, err=True), show=click.echo, progress=step),
            guard=guard,
        )
        moved = write.move_aliases(request, registry, ctx)
    outcome = moved.result
    actions.step_summary(
        markdown.apply_markdown(outcome.applied, [(f.change, f.error) for f in outcome.failures], outcome.not_started)
    )
    report_moves(outcome, "applied ")
    click.echo(f"Applied {len(outcome.applied)} changes ({registry.writes} registry writes).")
    environments()


def _older_needs_reason(allow_older: bool, reason: str | None) -> None:
    if allow_older and not (reason or "").strip():
        raise InvalidInput("--allow-older needs --reason TEXT: say why an older commit is applied (it is recorded)")
    if reason and not allow_older:
        raise InvalidInput("--reason goes with --allow-older (it records why an older commit is applied)")


def _confirm(yes: bool, count: int) -> None:
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"refusing to apply {count} changes without confirmation; pass --yes")
        click.confirm("Apply these changes?", abort=True)


def head_guards(
    s: Settings,
    registry: MlflowRegistry | None,
    environments: Mapping[str, MlflowRegistry],
    ctx: Context,
    allow_older: str | None,
) -> dict[str | None, HeadGuard]:
    """apply's head-only rule for the pins file's branch in every registry it writes: the command's (key None)
    and each environment's, one guard per server (environments on one server share its record); empty outside
    a git repository or on no branch."""
    from modelpins import gitrepo

    try:
        repo, _ = gitrepo.locate(s.pins)
    except ModelPinsError:
        return {}
    name = head.branch(os.environ, repo)
    if not name or not ctx.commit:
        return {}
    repository = head.repository(os.environ, repo)
    by_server: dict[str, HeadGuard] = {}
    out: dict[str | None, HeadGuard] = {}
    for env, reg in [*([(None, registry)] if registry else []), *environments.items()]:
        if reg.tracking_uri not in by_server:
            where = f"the registry of environment '{env}'" if env else ""
            by_server[reg.tracking_uri] = HeadGuard(reg, repo, repository, name, ctx, allow_older, where=where)
        out[env] = by_server[reg.tracking_uri]
    return out


def apply_environments(
    s: Settings,
    envs: tuple[crossenv.Promotions, dict[str, MlflowRegistry]],
    ctx: Context,
    guards: Mapping[str, HeadGuard],
    dry_run: bool,
    yes: bool,
    skip_gates: bool,
    lock_timeout: float,
    ttl: float,
) -> None:
    """The environments' part of apply: copies, gates on them, alias moves, each environment in order."""
    promos, registries = envs
    shown = crossenv.table(promos)
    if shown:
        click.echo(shown)
    click.echo(crossenv.summary(promos))
    for w in promos.overridden:
        click.secho(f"warning: soak time overridden for {w.pin}: {w.override} (recorded)", fg="yellow", err=True)
    if not shown or dry_run:
        if dry_run:
            click.echo("Dry run: nothing written.")
        else:
            for guard in {id(g): g for g in guards.values()}.values():
                guard.record()  # nothing to move: the commit is applied in each environment's registry
        crossenv.enforce_soak(promos)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("refusing to apply the environments' changes without confirmation; pass --yes")
        click.confirm("Apply these changes?", abort=True)
    done = crossenv.apply(
        s.pins,
        promos,
        registries,
        ctx,
        skip_gates=skip_gates,
        lock_timeout=lock_timeout,
        lock_ttl=ttl,
        notify=lambda message: click.echo(message, err=True),
        guards=guards,
    )
    writes = sum(r.writes for r in {id(r): r for r in registries.values()}.values())
    for applied in done:
        report_moves(applied.moved.result, f"applied {applied.environment}")
    copies = sum(len(a.copied) for a in done)
    moved = sum(len(a.moved.result.applied) for a in done)
    click.echo(f"Environments: {copies} copied, {moved} alias changes ({writes} registry writes).")
    crossenv.enforce_soak(promos)  # what the soak time held back: exit 1, naming when each is allowed


def report_moves(outcome: api.ApplyResult, verb: str, err: bool = False) -> None:
    """Print each move made; raise OperationFailed naming the failed and pending ones."""
    for c in outcome.applied:
        click.echo(f"{verb} {c.model}@{c.alias}: {version(c.before)} -> {version(c.after)}", err=err)
    if outcome.failures:
        lines = [f"failed   {f.change.model}@{f.change.alias}: {f.error}" for f in outcome.failures]
        lines += [
            f"pending  {c.model}@{c.alias}: {version(c.before)} -> {version(c.after)} (not started)"
            for c in outcome.not_started
        ]
        raise OperationFailed(
            f"applied {len(outcome.applied)} of {len(outcome.plan.changes)} changes, then stopped: "
            f"{len(outcome.failures)} failed, {len(outcome.not_started)} not started\n"
            + "\n".join(lines)
            + "\nRun apply again once the cause is fixed; it continues from the registry's state."
        )
