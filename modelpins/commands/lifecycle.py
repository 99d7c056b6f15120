"""history, rollback, drift, lineage, lock, card: thin commands over modelpins.lifecycle."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from modelpins import envvars, pins
from modelpins.applylock import MIN_TTL as MIN_LOCK_TTL
from modelpins.cli import Settings
from modelpins.commands.adopt import propose
from modelpins.commands.serving import deploy_dir, dockerfile_option, lock_option, locked_artefacts, read_dockerfile
from modelpins.completion import complete_target
from modelpins.context import from_env
from modelpins.errors import InvalidInput, OperationFailed
from modelpins.lifecycle import drift as drift_mod
from modelpins.lifecycle import history as history_mod
from modelpins.lifecycle import rollback as rollback_mod
from modelpins.lifecycle import yamledit
from modelpins.plan import Change
from modelpins.redact import redact
from modelpins.registry import MlflowRegistry
from modelpins.report import plan_markdown
from modelpins.serving import drift as served_drift
from modelpins.serving.drift import ServedDrift

if TYPE_CHECKING:
    from modelpins.serving.cluster import Cluster


def parse_target(value: str, need_alias: bool = True) -> tuple[str, str | None]:
    model, at, alias = value.partition("@")
    if not model or (at and not alias) or (need_alias and not alias):
        raise InvalidInput(f"'{value}' is not MODEL@ALIAS (e.g. credit-risk-classifier@champion)")
    return model, alias or None


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
    if p and model and located and not offline:  # a model in an environment's registry: its audit records there
        registry = crossenv.connect(p, s.registry() if s.tracking_uri else None)[located[0]]
        found = history_mod.join(found, history_mod.audit_records(registry.versions({model}), alias))
    elif s.tracking_uri and not offline:
        registry = s.registry()
        models = {model} if model else {t.model for t in found.transitions}
        versions = registry.versions(models)
        found = history_mod.join(found, history_mod.audit_records(versions, alias))
    if as_json:
        out = {
            "transitions": [t.as_json() for t in found.transitions],
            "unreadable": found.unreadable,
            "shallow": found.shallow,
        }
        click.echo(json.dumps(out, indent=2))
        return
    if not found.transitions:
        click.echo(f"No alias transitions for {target or 'any model'} in {s.pins}'s history.")
    else:
        click.echo(history_mod.table(found))
    for note in found.unreadable:
        click.echo(f"note: skipped a commit whose file did not parse: {note}", err=True)
    if found.shallow:
        click.echo(
            "note: shallow clone, older history is missing (git fetch --unshallow; in CI fetch-depth: 0)", err=True
        )
    if not found.registry_read:
        click.echo("(registry not read: pass --tracking-uri to join MLflow's audit tags)", err=True)


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
        lambda base: "\n".join(message.splitlines()[2:-2]) + "\n\n" + plan_markdown([change], s.pins.name, base, None),
    )
    click.echo(f"{model}@{alias}: {result.current} -> {result.target} ({result.basis})")
    if result.waiver:
        click.echo(f"gates waived: {result.waiver}")
    elif result.served_before:
        click.echo(f"version {result.target} served {alias} before; --waive-gates would record a gate waiver")


@click.command()
@click.option("--ref", help="Compare with the pins file at this git ref (e.g. main) instead of the working copy.")
@click.option("--model", "only", help="Only this model (with --cluster: the deployments that serve it).")
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"drift": [{model, alias, expected, actual}]} (and "served").'
)
@click.option("--markdown", "md", type=click.Path(path_type=Path), help="Append a markdown report to FILE.")
@click.option(
    "--fix",
    type=click.Choice(["apply", "file"]),
    help="apply: make the registry match git (--yes); "
    "file: write the registry's versions into the pins file for a pull request. Registry only: "
    "served drift is fixed by a rollout.",
)
@click.option("--yes", "-y", is_flag=True, help="Confirm --fix apply.")
@click.option(
    "--cluster",
    is_flag=True,
    help="Also compare what the cluster serves (image, args, model and version of each Deployment, "
    "Service selectors, HTTPRoute weights) with the rendered manifests.",
)
@click.option(
    "--environment", "-e", "environments", multiple=True, help="With --cluster: only this environment (repeatable)."
)
@click.option("--context", default=None, help="With --cluster: kubeconfig context (default: the current one).")
@dockerfile_option
@lock_option
@click.pass_obj
def drift(
    s: Settings,
    ref: str | None,
    only: str | None,
    as_json: bool,
    md: Path | None,
    fix: str | None,
    yes: bool,
    cluster: bool,
    environments: tuple[str, ...],
    context: str | None,
    dockerfile: Path | None,
    lock_path: Path | None,
) -> None:
    """Compare the registry (and, with --cluster, what the cluster serves) with the pins file; exit 1 on drift."""
    if fix == "file" and ref:
        raise InvalidInput("--fix file edits the working copy; drop --ref")
    if (environments or context or dockerfile or lock_path) and not cluster:
        raise InvalidInput("--environment, --context, --dockerfile and --lock apply to --cluster; pass --cluster")
    if fix == "apply":
        ref = ref or "HEAD"  # git's state is the committed file: never restore an uncommitted edit
    p = pins.load_at(s.pins, ref) if ref else pins.load(s.pins)
    if p is None:
        raise InvalidInput(f"{s.pins} does not exist at {ref}; commit it first")
    editing = yamledit.read(s.pins) if fix == "file" else None  # what --fix file edits, as it was read
    if only and only not in p.models:
        raise InvalidInput(f"model '{only}' is not in {s.pins}; models: {', '.join(p.models)}")
    source = f"{s.pins}@{ref}" if ref else str(s.pins)
    served_check = _served_check(s, p, ref, environments, context, dockerfile, lock_path) if cluster else None
    registry = s.registry()
    found = drift_mod.drift(p, registry.aliases(), only)
    served: list[ServedDrift] = []
    if served_check is not None:
        served = served_check.run()
        if only:
            serving = {d.name for d in p.deployments.values() if only in _models(p, d)}
            served = [d for d in served if d.deployment in serving]
    if md:
        with md.open("a", encoding="utf-8") as fh:
            fh.write(redact(drift_mod.markdown(found, source, s.shown_uri)))
            if served_check is not None:
                fh.write("\n" + redact(served_drift.markdown(served, source, served_check.where)))
    if as_json:
        out: dict[str, object] = {"drift": [d.as_json() for d in found]}
        if served_check is not None:
            out["served"] = [d.as_json() for d in served]
        click.echo(json.dumps(out, indent=2))
    else:
        if found:
            click.echo(drift_mod.table(found))
            click.echo(
                f"{len(found)} drifted alias{'es' if len(found) != 1 else ''}: {s.shown_uri} differs from {source}"
            )
        else:
            click.echo(f"No {'registry ' if cluster else ''}drift: {s.shown_uri} matches {source}.")
        if served_check is not None:
            if served:
                click.echo(served_drift.table(served))
                click.echo(
                    f"{len(served)} served difference{'s' if len(served) != 1 else ''}: "
                    f"{served_check.where} differs from {source}"
                )
            else:
                click.echo(f"No served drift: {served_check.where} matches {source}.")
    if found and editing is not None:
        yamledit.write(editing, drift_mod.fix_file(editing.text, str(s.pins), found))
        click.echo(
            f"wrote the registry's versions into {s.pins}; review with git diff and open a pull request", err=as_json
        )
    elif found and fix == "apply":
        if not yes:
            raise InvalidInput("--fix apply writes to the registry; pass --yes to confirm")
        _fix_apply(s, p, ref or "HEAD", registry, as_json)
    elif found:
        click.get_current_context().exit(1)  # drift is a finding: exit 1, the report above says what differs
    if served:
        if fix:
            click.echo(
                "--fix changes the registry only; `modelpins rollout` restores what the cluster serves", err=True
            )
        click.get_current_context().exit(1)


def _models(p: pins.PinsFile, dep: pins.Deployment) -> set[str]:
    from modelpins.serving.render import tracks

    return {r.model for t in tracks(p, dep) for r in t.refs()}


class _ServedCheck:
    """The rendered objects of every environment, the ones to compare, and the cluster to read them back from."""

    def __init__(
        self, cluster: Cluster, rendered: dict[str, tuple[str, list[dict[str, Any]]]], chosen: tuple[str, ...]
    ):
        self.cluster, self.rendered, self.chosen = cluster, rendered, chosen
        self.where = f"the cluster at {cluster.host} ({', '.join(chosen)})"

    def run(self) -> list[ServedDrift]:
        return served_drift.check(self.cluster, self.rendered, self.chosen)


def _served_check(
    s: Settings,
    p: pins.PinsFile,
    ref: str | None,
    environments: tuple[str, ...],
    context: str | None,
    dockerfile: Path | None,
    lock_path: Path | None,
) -> _ServedCheck:
    """Render every environment (as rollout does) and connect to the cluster, before anything is read."""
    from modelpins.serving import lock
    from modelpins.serving.cluster import Cluster
    from modelpins.serving.render import resolved

    unknown = [e for e in environments if e not in p.environments]
    if unknown:
        raise InvalidInput(f"unknown environment {', '.join(unknown)}; the pins file has: {', '.join(p.environments)}")
    if not p.environments:
        raise InvalidInput(f"{s.pins} has no environments; --cluster compares the deployments of its environments")
    lock_file = lock_path or deploy_dir(s) / "images.lock.json"
    docker_file = dockerfile or deploy_dir(s) / "Dockerfile"
    if ref and not lock_path:
        data = _at_ref(s, lock_file, ref)
        current = lock.loads(data, f"{lock_file}@{ref}") if data is not None else lock.ImageLock()
    else:
        current = lock.load(lock_file)
    docker_bytes = (_at_ref(s, docker_file, ref) if ref and not dockerfile else None) or read_dockerfile(docker_file)
    from modelpins.lifecycle import lock as model_lock

    model_lock_path = model_lock.path_for(s.pins)
    if ref:
        data = _at_ref(s, model_lock_path, ref)
        locked = locked_artefacts(s.pins, data, f"{model_lock_path}@{ref}") if data is not None else None
    else:
        locked = locked_artefacts(s.pins)
    rendered = {
        name: (env.namespace, resolved(p, current, docker_bytes, name, locked)) for name, env in p.environments.items()
    }
    return _ServedCheck(Cluster(context), rendered, environments or tuple(p.environments))


def _at_ref(s: Settings, path: Path, ref: str) -> bytes | None:
    """The file's bytes at `ref` of the pins file's repository (None: not there)."""
    from modelpins import gitrepo

    repo, _ = gitrepo.locate(s.pins)
    try:
        rel = path.resolve().relative_to(repo).as_posix()
    except ValueError:
        return None
    return gitrepo.show(repo, gitrepo.resolve(repo, ref), rel)


def _fix_apply(s: Settings, p: pins.PinsFile, ref: str, registry: MlflowRegistry, as_json: bool) -> None:
    """Restore the registry to the file at `ref` through the one write path (lock, gate evidence, audit)."""
    from modelpins import gitrepo, write
    from modelpins.commands.core import report_moves

    repo, _ = gitrepo.locate(s.pins)
    ctx = from_env(os.environ, s.pins.resolve().parent, commit=gitrepo.resolve(repo, ref))
    moved = write.move_aliases(
        s.pins,
        p,
        registry,
        ctx,
        lock_ttl=envvars.number("MODELPINS_LOCK_TTL", 600, MIN_LOCK_TTL, 86400),
        reason="drift-fix",
        notify=lambda message: click.echo(message, err=True),
    )
    report_moves(moved.result, "restored", err=as_json)


def _v(version: int | None) -> str:
    return "-" if version is None else str(version)


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
    from modelpins.lifecycle import lock as lock_mod
    from modelpins.lifecycle.artifacts import Reader

    p = pins.load(s.pins)
    path = lock_mod.path_for(s.pins)
    previous = lock_mod.read(path)
    if check:
        if previous is None:
            raise OperationFailed(f"{path} does not exist; run `modelpins lock` and commit it")
        differences = lock_mod.stale(p, previous)
        if differences:
            raise OperationFailed(
                f"{path} is stale:\n" + "\n".join(differences) + "\nRun `modelpins lock` and commit the result."
            )
        if s.tracking_uri:
            registry = s.registry()
            reader = Reader(registry, s.tracking_uri)
            moved = lock_mod.moved(previous, registry, reader, lock_mod.verify_mode())
            if moved:
                raise OperationFailed(f"{path} no longer matches the registry:\n" + "\n".join(map(str, moved)))
            click.echo(f"{path}: up to date ({len(previous.entries)} versions; digests checked against the registry)")
            return
        click.echo(f"{path}: up to date ({len(previous.entries)} versions)")
        return
    registry = s.registry()
    reader = Reader(registry, s.tracking_uri or "")
    entries, hashed = lock_mod.build(p, registry, reader, previous, refresh)
    text = lock_mod.render(entries, s.pins.name)
    changed = previous is None or path.read_text(encoding="utf-8") != text
    if changed:
        path.write_text(text, encoding="utf-8")
    click.echo(
        f"{path}: {len(entries)} versions locked ({hashed} hashed, {len(entries) - hashed} kept; "
        f"{reader.bytes_read} bytes read){'' if changed else '; unchanged'}"
    )


@click.command()
@click.argument("target", required=False, shell_complete=complete_target)
@click.option("--json", "as_json", is_flag=True, help="Print the chain as JSON.")
@click.option("--environment", metavar="ENV", help="MODEL@ALIAS in this environment's registry (its copies' chain).")
@click.pass_obj
def lineage(s: Settings, target: str | None, as_json: bool, environment: str | None) -> None:
    """Run, params, dataset, code commit and base/teacher chain of MODEL@ALIAS (default: every pin)."""
    from modelpins import crossenv
    from modelpins.lifecycle import lineage as lineage_mod

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
    from modelpins.lifecycle import card as card_mod
    from modelpins.lifecycle import lineage as lineage_mod
    from modelpins.lifecycle import lock as lock_mod

    model, alias = parse_target(target)
    assert alias is not None
    p = pins.load(s.pins)
    version = lineage_mod.resolve(p, model, alias)
    registry = s.registry()
    node = lineage_mod.lineage(p, registry, model, version)
    locked = lock_mod.read(lock_mod.path_for(s.pins))
    entry = locked.entries.get((model, version)) if locked else None
    text = card_mod.build(p, alias, node, s.tracking_uri or "", entry)
    path = out or Path("cards") / card_mod.file_name(model, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(text), encoding="utf-8")
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
    from modelpins.lifecycle import card as card_mod
    from modelpins.lifecycle.artifacts import RUNS_RE
    from modelpins.lifecycle.lineage import Node

    assert isinstance(node, Node)
    m = RUNS_RE.fullmatch(node.source)
    if not node.run_id or not m or not (m.group(2) or "").strip("/"):
        click.echo(
            f"note: not attached: the source {node.source} is not a sub-directory of a run, and a card logged there "
            "would change the version's artefacts; the file is written only",
            err=True,
        )
        return None
    from mlflow import MlflowClient  # deferred: only attaching needs the client's artefact upload

    MlflowClient(tracking_uri=s.tracking_uri).log_artifact(node.run_id, str(path), card_mod.ARTIFACT_DIR)
    uri = f"runs:/{node.run_id}/{card_mod.ARTIFACT_DIR}/{path.name}"
    registry.set_version_tag(node.model, node.version, card_mod.CARD_TAG, uri)
    return uri
