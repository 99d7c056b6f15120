"""history, rollback, lineage, lock, card: thin commands over audit, proposals, provenance and integrity.

Drift has its own commands (commands/drift.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelpins import pins, progress, safe_write
from modelpins.audit import canary as audit_canary
from modelpins.audit import history as history_mod
from modelpins.commands.proposing import propose
from modelpins.completion import complete_target
from modelpins.errors import InvalidInput, OperationFailed
from modelpins.escape import terminal
from modelpins.markdown import plan_markdown
from modelpins.plan import Change
from modelpins.proposals import rollback as rollback_mod
from modelpins.proposals import yamledit
from modelpins.redact import redact
from modelpins.registry import MlflowRegistry
from modelpins.settings import Settings
from modelpins.text import did_you_mean, parse_target

if TYPE_CHECKING:
    from modelpins.integrity.artefact_lock import LockFile


@click.command()
@click.argument("target", required=False, shell_complete=complete_target)
@click.option("--json", "as_json", is_flag=True, help='Print {"transitions": [...]} instead of a table.')
@click.option("--offline", is_flag=True, help="Git history only, even when a tracking URI is set.")
@click.option("--environment", metavar="ENV", help="MODEL[@ALIAS] in this environment's registry (its audit tags).")
@click.pass_obj
def history(s: Settings, target: str | None, as_json: bool, offline: bool, environment: str | None) -> None:
    """Every alias transition of MODEL[@ALIAS]: git history of the pins file joined with MLflow's audit tags."""
    model, alias = parse_target(target, need_alias=False) if target else (None, None)
    from modelpins import crossenv

    p = _current(s.pins) if model else None
    located = crossenv.locate(p, model, environment) if p and model else None
    if environment and not located:
        raise InvalidInput(f"{target} is not pinned in environment '{environment}' in {s.pins}")
    # the git history of the file pins the command's registry; an environment's has its audit tags
    found = history_mod.History([]) if located else history_mod.git_transitions(s.pins, model, alias)
    if p and model and model not in p.models and not found.transitions and did_you_mean(model, p.models):
        raise InvalidInput(f"model '{model}' is not in {s.pins} nor in its history{did_you_mean(model, p.models)}")
    canary: list[dict[str, object]] = []
    if not offline:
        found, canary = _with_registry(s, p, model, alias, located, found)
    if as_json:
        out = {
            "transitions": [t.as_json() for t in found.transitions],
            "unreadable": found.unreadable,
            "shallow": found.shallow,
            "canary": canary,
        }
        click.echo(json.dumps(out, indent=2))
        return
    if not found.transitions:
        click.echo(f"No alias transitions for {target or 'any model'} in {s.pins}'s history.")
    else:
        click.echo(history_mod.table(found))
    if canary:
        click.echo("\nCanary decisions (modelpins canary advance):\n" + audit_canary.table(canary))
    for note in found.unreadable:
        click.echo(f"note: skipped a commit whose file did not parse: {note}", err=True)
    if found.shallow:
        click.echo(
            "note: shallow clone, older history is missing (git fetch --unshallow; in CI fetch-depth: 0)", err=True
        )
    if not found.registry_read:
        click.echo("(registry not read: pass --tracking-uri to join MLflow's audit tags)", err=True)


def _with_registry(
    s: Settings,
    p: pins.PinsFile | None,
    model: str | None,
    alias: str | None,
    located: tuple[str, str] | None,
    found: history_mod.History,
) -> tuple[history_mod.History, list[dict[str, object]]]:
    """`found` joined with the audit records in the registry, and the canary decisions recorded there."""
    from modelpins import crossenv

    if p and model and located:  # a model in an environment's registry: its audit records there
        registry = crossenv.connect(p, s.registry() if s.tracking_uri else None)[located[0]]
        return history_mod.join(found, history_mod.audit_records(registry.versions({model}), alias)), []
    if not s.tracking_uri:
        return found, []
    models = {model} if model else {t.model for t in found.transitions}
    versions = s.registry().versions(models)
    canary = [r for info in versions.values() for r in audit_canary.records(info.tags)]
    return history_mod.join(found, history_mod.audit_records(versions, alias)), canary


def _current(path: Path) -> pins.PinsFile | None:
    """The pins file as it stands, to tell an environment's model; None when it does not parse (git is read still)."""
    try:
        return pins.load(path)
    except InvalidInput:
        return None


@click.command()
@click.argument("target", shell_complete=complete_target)
@click.option("--to", "to", type=click.IntRange(min=1), help="Version to roll back to (default: the previous one).")
@click.option("--branch", help="Create this branch from HEAD and commit the edit on it, ready for a pull request.")
@click.option(
    "--open-pr",
    is_flag=True,
    help="Also push the branch and open the pull request (with $GITHUB_TOKEN; else print the `gh pr create` line).",
)
@click.option(
    "--waive-gates", "waive", is_flag=True, help="Record a gate waiver (only for a version that served before)."
)
@click.option("--reason", default="", help="Why the gates are waived (with --waive-gates).")
@click.pass_obj
def rollback(
    s: Settings, target: str, to: int | None, branch: str | None, open_pr: bool, waive: bool, reason: str
) -> None:
    """Point MODEL@ALIAS back at its previous (or --to) version in the pins file: a one-line diff for review."""
    model, alias = parse_target(target)
    assert alias is not None
    if reason and not waive:
        raise InvalidInput("--reason explains a gate waiver; pass it with --waive-gates")
    source = yamledit.read(s.pins)  # an edit made to the file from here on is not overwritten
    p = pins.loads(source.data, str(s.pins))
    try:
        transitions = history_mod.git_transitions(s.pins, model, alias).transitions
    except InvalidInput:
        if branch:
            raise
        transitions = []  # not a git repository: --to or the audit tag must say where to go
    registry = s.registry() if s.tracking_uri else None
    current = p.models[model].aliases[alias].version if model in p.models and alias in p.models[model].aliases else 0
    current_info = registry.version(model, current) if registry and current else None
    version, _ = rollback_mod.choose(p, model, alias, to, transitions, current_info)
    target_info = None
    if registry:
        target_info = registry.version(model, version)
        if target_info is None or target_info.status != "READY":
            state = "does not exist" if target_info is None else f"is {target_info.status}"
            raise InvalidInput(f"version {version} of '{model}' {state} in {s.shown_uri}; pass --to VERSION")
    waiver = reason if waive else None
    result = rollback_mod.plan(p, source.text, model, alias, to, transitions, current_info, target_info, waiver)
    message = rollback_mod.commit_message(result)
    change = Change(model, alias, result.current, result.target, result.line)
    propose(
        s,
        source,
        result.new_text,
        branch or (f"rollback/{model}-{alias}-v{result.target}" if open_pr else None),
        open_pr,
        message,
        message.splitlines()[0],
        lambda base: (
            "\n".join(message.splitlines()[2:-2])
            + "\n\n"
            + plan_markdown([change], s.pins.name, base, None)
            + "\n\n"
            + message.splitlines()[-1]
        ),  # the trailer, so a squash merge with the PR's body keeps it
    )
    click.echo(f"{model}@{alias}: {result.current} -> {result.target} ({terminal(result.basis)})")
    if result.waiver:
        click.echo(f"gates waived: {result.waiver}")
    elif result.served_before:
        click.echo(f"version {result.target} served {alias} before; --waive-gates would record a gate waiver")


@click.command()
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 when the lock does not list exactly the pinned versions; with a server, also when a version's "
    "artefact or signature digest moved.",
)
@click.option("--refresh", is_flag=True, help="Hash every pinned version again, not only new or re-registered ones.")
@click.pass_obj
def lock(s: Settings, check: bool, refresh: bool) -> None:
    """Write model_pins.lock: each pinned version's run, source and artefact digest (--check: is it current?)."""
    from modelpins import crossenv
    from modelpins.crossenv import locking
    from modelpins.integrity import artefact_lock
    from modelpins.integrity.artifacts import Reader

    p = pins.load(s.pins)
    path = artefact_lock.path_for(s.pins)
    previous = artefact_lock.read(path)
    default = not crossenv.pinned_environments(p) or crossenv.has_default_pins(p)
    if check:
        _check_lock(s, p, path, previous, default)
        return
    envs = crossenv.from_settings(p, s.tracking_uri, s.registry)
    entries: list[artefact_lock.Entry] = []
    hashed = bytes_read = 0
    if default:
        registry = s.registry()
        reader = Reader(registry, s.tracking_uri or "")
        with progress.shown("lock", len(artefact_lock.pinned(p))) as step:
            entries, hashed = artefact_lock.build(p, registry, reader, previous, refresh, progress=step)
        bytes_read = reader.bytes_read
    built = locking.build(envs[0], previous, refresh) if envs else locking.Built()
    for note in built.notes:
        click.echo(note, err=True)
    text = artefact_lock.render(entries, s.pins.name, built.entries)
    changed = previous is None or path.read_text(encoding="utf-8") != text
    if changed:
        safe_write.write_file(path, text, "the lock file")
    n, hashed = len(entries) + sum(len(v) for v in built.entries.values()), hashed + built.hashed
    click.echo(
        f"{path}: {n} versions locked ({hashed} hashed, {n - hashed} kept; "
        f"{bytes_read + built.bytes_read} bytes read){'' if changed else '; unchanged'}"
    )


def _check_lock(s: Settings, p: pins.PinsFile, path: Path, previous: LockFile | None, default: bool) -> None:
    """lock --check: the lock lists exactly the pinned versions; with a server, their digests still match."""
    from modelpins import crossenv
    from modelpins.crossenv import locking
    from modelpins.integrity import artefact_lock
    from modelpins.integrity.artifacts import Reader

    if previous is None:
        raise OperationFailed(f"{path} does not exist; run `modelpins lock` and commit it")
    envs = crossenv.from_settings(p, s.tracking_uri, s.registry) if s.tracking_uri else None
    differences = artefact_lock.stale(p, previous)
    differences += locking.stale(envs[0], previous) if envs else locking.stale_offline(p, previous)
    if differences:
        raise OperationFailed(
            f"{path} is stale:\n" + "\n".join(differences) + "\nRun `modelpins lock` and commit the result."
        )
    n = locking.count(previous)
    if not s.tracking_uri:
        click.echo(f"{path}: up to date ({n} versions)")
        return
    mode = artefact_lock.verify_mode()
    moved = locking.moved(envs[0], previous, mode) if envs else []
    if default:
        registry = s.registry()
        moved = artefact_lock.moved(previous, registry, Reader(registry, s.tracking_uri), mode) + moved
    if moved:
        raise OperationFailed(f"{path} no longer matches the registry:\n" + "\n".join(map(str, moved)))
    click.echo(f"{path}: up to date ({n} versions; digests checked against the registry)")


@click.command()
@click.argument("target", required=False, shell_complete=complete_target)
@click.option("--json", "as_json", is_flag=True, help="Print the chain as JSON.")
@click.option("--environment", metavar="ENV", help="MODEL@ALIAS in this environment's registry (its copies' chain).")
@click.pass_obj
def lineage(s: Settings, target: str | None, as_json: bool, environment: str | None) -> None:
    """Run, params, dataset, code commit and base/teacher chain of MODEL@ALIAS (default: every pin)."""
    from modelpins import crossenv
    from modelpins.provenance import lineage as lineage_mod

    p = pins.load(s.pins)
    located = crossenv.locate(p, parse_target(target)[0], environment) if target else None
    if environment and not located:
        raise InvalidInput(f"{target} is not pinned in environment '{environment}' in {s.pins}")
    registries = crossenv.connect(p, s.registry() if s.tracking_uri else None)
    by_url = {crossenv.uri(r): r for r in registries.values()}
    registry = registries[located[0]] if located else s.registry()
    if s.tracking_uri:
        by_url.setdefault(crossenv.uri(registry), registry)
    if target:
        model, alias = parse_target(target)
        assert alias is not None
        if located:  # a model in an environment's registry: its alias as that registry holds it
            version = registry.aliases().get(model, {}).get(alias)
            if version is None:
                raise InvalidInput(f"{model}@{alias} is not set in environment {located[0]}'s registry; apply first")
        else:
            version = lineage_mod.resolve(p, model, alias)
        wanted = [(model, version)]
    else:
        wanted = list(dict.fromkeys((m, pin.version) for m, pin in p.pins()))
    nodes = [lineage_mod.lineage(p, registry, m, v, registries=by_url) for m, v in wanted]
    if as_json:
        click.echo(json.dumps({"lineage": [n.as_json() for n in nodes]}, indent=2))
        return
    click.echo("\n\n".join(lineage_mod.render(n) for n in nodes))


@click.command()
@click.argument("target", shell_complete=complete_target)
@click.option("--out", type=click.Path(path_type=Path), help="Output file (default: cards/<model>-v<version>.md).")
@click.option("--no-attach", is_flag=True, help="Only write the file; do not log it to the run or tag the version.")
@click.option("--json", "as_json", is_flag=True, help="Print {path, artifact, url} for a PR comment.")
@click.pass_obj
def card(s: Settings, target: str, out: Path | None, no_attach: bool, as_json: bool) -> None:
    """Write a markdown model card for MODEL@ALIAS and attach it to the version (run artefact + tag)."""
    from modelpins.integrity import artefact_lock
    from modelpins.provenance import card as card_mod
    from modelpins.provenance import lineage as lineage_mod

    model, alias = parse_target(target)
    assert alias is not None
    p = pins.load(s.pins)
    version = lineage_mod.resolve(p, model, alias)
    registry = s.registry()
    node = lineage_mod.lineage(p, registry, model, version)
    locked = artefact_lock.read(artefact_lock.path_for(s.pins))
    entry = locked.entries.get((model, version)) if locked else None
    text = card_mod.build(p, alias, node, s.tracking_uri or "", entry)
    path = out or Path("cards") / card_mod.file_name(model, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe_write.write_file(path, redact(text), "--out")
    artifact = None
    if not no_attach:
        artifact = _attach(s, registry, node, path)
    url = card_mod.ui_url(s.tracking_uri or "", model, version)
    if as_json:
        click.echo(json.dumps({"path": str(path), "artifact": artifact, "url": url}, indent=2))
        return
    click.echo(f"wrote {path}")
    if artifact:
        click.echo(f"attached as {artifact} (version tag {card_mod.CARD_TAG})")
    click.echo(f"version page: {url}")


def _attach(s: Settings, registry: MlflowRegistry, node: object, path: Path) -> str | None:
    """Log the card to the version's run under model_card/ and point the version tag at it."""
    from modelpins.integrity.artifacts import RUNS_RE
    from modelpins.provenance import card as card_mod
    from modelpins.provenance.lineage import Node

    assert isinstance(node, Node)
    m = RUNS_RE.fullmatch(node.source)
    if not node.run_id or not m or not (m.group(2) or "").strip("/"):
        click.echo(
            f"note: not attached: the source {node.source} is not a sub-directory of a run, and a card logged there "
            "would change the version's artefacts; the file is written only",
            err=True,
        )
        return None
    registry.log_artifact(node.run_id, path, card_mod.ARTIFACT_DIR)  # the adapter uploads through MLflow's client
    uri = f"runs:/{node.run_id}/{card_mod.ARTIFACT_DIR}/{path.name}"
    registry.set_version_tag(node.model, node.version, card_mod.CARD_TAG, uri)
    return uri
