"""import and promote: thin commands over modelpins.proposals."""

from __future__ import annotations

import os
from pathlib import Path

import click

from modelpins import markdown, pins
from modelpins.commands.proposing import propose
from modelpins.completion import complete_target
from modelpins.errors import GateFailed, InvalidInput
from modelpins.plan import Change
from modelpins.proposals import proposal, yamledit
from modelpins.registry import MlflowRegistry, VersionInfo
from modelpins.settings import Settings


@click.command("import")
@click.option(
    "--model", "globs", multiple=True, metavar="GLOB", help="Only models whose name matches GLOB (repeatable)."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The file to write (default: --pins). An existing file only gains the models it does not have.",
)
@click.option(
    "--owner",
    "owners",
    multiple=True,
    metavar="TEAM",
    help="A file-level owner, e.g. @org/team or @user (repeatable); written to a file that has none. "
    "`modelpins approvals` fails every change to a model without owners.",
)
@click.pass_obj
def import_cmd(s: Settings, globs: tuple[str, ...], out: Path | None, owners: tuple[str, ...]) -> None:
    """Write the pins file from the registry's current aliases (every model, or those matching --model)."""
    from modelpins.proposals import importer

    path = out or s.pins
    if not path.parent.is_dir():
        raise InvalidInput(f"{path.parent}: no such directory; fix: create it or pass another --out")
    existing = None
    source = yamledit.Source(path, b"")
    if path.exists():
        pins.load(path)  # an invalid file is reported with its lines and left alone
        source = yamledit.read(path)
        existing = source.text
    registry = s.registry()
    result = importer.merge(registry.aliases(), existing, str(path), globs, owners)
    if result.text != existing:
        yamledit.write(source, result.text)  # refused if the file changed meanwhile
    for skipped in result.skipped:
        click.echo(f"left out {skipped}", err=True)
    if result.without_aliases:
        names = ", ".join(result.without_aliases[:10]) + (" ..." if len(result.without_aliases) > 10 else "")
        n = len(result.without_aliases)
        have = "model has" if n == 1 else "models have"
        click.echo(f"note: {n} {have} no aliases, nothing to pin: {names}", err=True)
    kept = f"; kept {_models(len(result.kept))} already in the file as they are" if result.kept else ""
    left = f"; left out {_models(len({x.model for x in result.skipped}))} (see above)" if result.skipped else ""
    verb = "added" if existing is not None else "wrote"
    click.echo(f"{path}: {verb} {_models(len(result.added))} ({registry.reads} registry reads){kept}{left}")
    if result.added or owners:
        click.echo("next: `modelpins plan` should show no changes; commit the file")
    if pins.loads(result.text, str(path)).owners:
        click.echo("owners are required: review the file-level `owners:` (and give models their own where needed)")
    else:
        click.echo(
            "next: owners are required: `modelpins approvals` fails every change to a model without owners. "
            "Import again with --owner @org/team, or add `owners:` to the file or to each model"
        )


def _models(n: int) -> str:
    return f"{n} model{'s' if n != 1 else ''}"


@click.command()
@click.argument("target", metavar="MODEL@ALIAS", shell_complete=complete_target)
@click.argument("version", metavar="VERSION", type=click.IntRange(min=1, max=pins.MAX_VERSION))
@click.option("--branch", help="Create this branch from HEAD and commit the edit on it.")
@click.option(
    "--open-pr",
    is_flag=True,
    help="Also push the branch and open the pull request (with $GITHUB_TOKEN; else print the `gh pr create` line).",
)
@click.option("--gate", "run_gates", is_flag=True, help="Run the alias's gates on the version first (not recorded).")
@click.pass_obj
def promote(s: Settings, target: str, version: int, branch: str | None, open_pr: bool, run_gates: bool) -> None:
    """Point MODEL@ALIAS at VERSION in the pins file (a one-line diff), once the version is READY in MLflow."""
    from modelpins.proposals import promote as promote_mod
    from modelpins.text import parse_target

    model, alias = parse_target(target)
    assert alias is not None
    bad = pins.alias_problem(alias)
    if bad:
        raise InvalidInput(f"{bad[0]}; fix: {bad[1]}")
    source = yamledit.read(s.pins)  # an edit made to the file from here on is not overwritten
    p = pins.loads(source.data, str(s.pins))
    text = source.text
    m = p.models.get(model)
    current = m.aliases[alias].version if m and alias in m.aliases else None
    if current == version:
        line = m.aliases[alias].line if m else 0
        raise InvalidInput(f"{s.pins}:{line}: {model}@{alias} is already pinned to {version}; nothing to promote")
    registry = s.registry()
    versions = registry.versions({model})
    promote_mod.check_target(p, model, alias, version, versions)
    splices = proposal.retarget(yamledit.Doc(text, p.path), p, model, alias, version)
    new_text = proposal.edited(text, p.path, splices, "promoted")
    new = pins.loads(new_text, p.path)
    change = Change(model, alias, current, version, new.models[model].aliases[alias].line)
    if run_gates:
        _gate(s, new, change, versions, registry)
    cards = markdown.cards([change], versions, s.tracking_uri or "")
    propose(
        s,
        source,
        new_text,
        branch or (f"promote/{model}-{alias}-v{version}" if open_pr else None),
        open_pr,
        promote_mod.commit_message(change),
        promote_mod.title(change),
        lambda base: promote_mod.pr_body(change, s.pins.name, base, cards[0] if cards else None, run_gates),
    )
    click.echo(f"{model}@{alias}: {current if current is not None else '-'} -> {version}")


def _gate(
    s: Settings,
    p: pins.PinsFile,
    change: Change,
    versions: dict[tuple[str, int], VersionInfo],
    registry: MlflowRegistry,
) -> None:
    """The alias's gates on the version, here and now, without tagging it; GateFailed (nothing written) if one fails."""
    from modelpins.context import from_env
    from modelpins.gates import report as gate_report
    from modelpins.gates import run

    actual = {change.model: registry.aliases().get(change.model, {})}
    moved = Change(change.model, change.alias, actual[change.model].get(change.alias), change.after, change.line)
    ctx = from_env(os.environ, s.pins.resolve().parent)
    result = run.run_gates(
        p, [moved], actual, versions, registry, tracking_uri=s.tracking_uri or "", ctx=ctx, record=False
    )
    if result.checks:
        click.echo(gate_report.table(result))
    click.echo(gate_report.summary(result))
    if not result.passed:
        raise GateFailed(f"{change.model}@{change.alias} v{change.after}: gates failed; nothing was written")
