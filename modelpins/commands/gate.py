"""modelpins gate: run the promotion gates of every alias the change moves."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import click

from modelpins import pins, progress, safe_write
from modelpins.context import from_env
from modelpins.errors import GateFailed, InvalidInput
from modelpins.gates import GateReport
from modelpins.redact import redact
from modelpins.settings import Settings


@click.command()
@click.option(
    "--base",
    "base_ref",
    metavar="REF",
    default=None,
    help="Gate what the pins file changed since this git ref (e.g. origin/main); default: what apply would change.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of a table.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a markdown report (for a PR comment or the job summary).",
)
@click.option("--no-record", is_flag=True, help="Do not tag the candidate versions with the results.")
@click.option(
    "--gates-from",
    "gates_from",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Take gate definitions from this pins file (a checkout of the PR's base) and run their scripts in its "
    "directory; aliases whose gates the pins file changes are reported as gate changes, to run after merge.",
)
@click.pass_obj
def gate(
    s: Settings, base_ref: str | None, as_json: bool, report_path: Path | None, no_record: bool, gates_from: Path | None
) -> None:
    """Run the gates of every alias that moves; exit 1 when any fails (a failing or erroring gate blocks)."""
    from modelpins import crossenv
    from modelpins.gates import report, run

    p = pins.load(s.pins)
    trusted = pins.load(gates_from) if gates_from is not None else None
    ctx = from_env(os.environ, s.pins.resolve().parent)
    envs = crossenv.from_settings(p, s.tracking_uri, s.registry)
    result = GateReport(p.path, (), base_ref, ctx.commit)
    if envs is None or crossenv.has_default_pins(p):
        registry = s.registry()
        changes, actual, versions = run.changes_to_gate(p, registry, base_ref)
        with progress.shown("gate", len(changes), enabled=not as_json) as step:
            result = run.run_gates(
                p,
                changes,
                actual,
                versions,
                registry,
                tracking_uri=s.tracking_uri or "",
                ctx=ctx,
                record=not no_record,
                base_ref=base_ref,
                trusted=trusted,
                progress=step,
            )
    if envs is not None:  # each environment's moves, in its own registry (a copy: its source's evidence)
        found = crossenv.gate(envs[0], envs[1], ctx, record=not no_record)
        result = replace(result, checks=result.checks + found.checks)
    if report_path is not None:
        try:
            report_path.parent.mkdir(parents=True, exist_ok=True)
            safe_write.write_file(report_path, redact(report.markdown(result)), "the report path")
        except OSError as exc:
            raise InvalidInput(f"cannot write the report to {report_path}: {exc.strerror}") from None
    if as_json:
        click.echo(json.dumps(report.as_json(result), indent=2))
    else:
        if result.checks:
            click.echo(report.table(result))
        click.echo(report.summary(result))
    if not result.passed:
        from modelpins import actions

        if actions.in_actions() and not as_json:
            for c in result.failed:
                failed = ", ".join(r.name for r in c.results if not r.passed)
                click.echo(actions.annotation("error", f"{c.ref} v{c.after}: gates failed ({failed})", p.path, c.line))
        blocked = ", ".join(f"{c.ref} v{c.after}" for c in result.failed)
        raise GateFailed(f"promotion blocked by failed gates: {blocked} (see the table above)")
