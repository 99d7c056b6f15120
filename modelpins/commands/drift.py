"""drift: the registry (and, with --cluster, what the cluster serves) against the pins file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from modelpins import envvars, pins
from modelpins.commands.serving import (
    classic_dockerfile,
    deploy_dir,
    dockerfile_option,
    lock_option,
    locked_artefacts,
    read_dockerfile,
)
from modelpins.context import from_env
from modelpins.crossenv import drift as env_drift
from modelpins.crossenv.drift import EnvDrift
from modelpins.drift import registry as registry_drift
from modelpins.drift import served as served_drift
from modelpins.drift.registry import Drift
from modelpins.drift.served import ServedDrift
from modelpins.errors import InvalidInput
from modelpins.proposals import yamledit
from modelpins.redact import redact
from modelpins.registry import MlflowRegistry
from modelpins.registry_mutex import MIN_TTL as MIN_LOCK_TTL
from modelpins.settings import Settings

if TYPE_CHECKING:
    from modelpins.serving.cluster import Cluster


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
    _check_options(fix, ref, cluster, (environments, context, dockerfile, lock_path))
    ref = ref or ("HEAD" if fix == "apply" else None)  # --fix apply restores the committed file, never an edit
    p = _load(s, ref, only)
    editing = yamledit.read(s.pins) if fix == "file" else None  # what --fix file edits, as it was read
    found = Found(f"{s.pins}@{ref}" if ref else str(s.pins), s.shown_uri)
    served_check = _served_check(s, p, ref, environments, context, dockerfile, lock_path) if cluster else None
    registry = _environments(s, p, only, found)
    found.registry = registry_drift.drift(p, registry.aliases(), only) if registry else None
    if served_check is not None:
        found.where = served_check.where
        found.served = _only(p, served_check.run(), only)
    if md:
        with md.open("a", encoding="utf-8") as fh:
            fh.write(redact(found.markdown()))
    click.echo(json.dumps(found.as_json(), indent=2) if as_json else found.text(cluster))
    if found.registry and editing is not None:
        yamledit.write(editing, registry_drift.fix_file(editing.text, str(s.pins), found.registry))
        click.echo(
            f"wrote the registry's versions into {s.pins}; review with git diff and open a pull request", err=as_json
        )
    elif found.registry and fix == "apply" and registry:
        if not yes:
            raise InvalidInput("--fix apply writes to the registry; pass --yes to confirm")
        _fix_apply(s, p, ref or "HEAD", registry, as_json)
    elif found.registry:
        click.get_current_context().exit(1)  # drift is a finding: exit 1, the report above says what differs
    _exit_on_others(found, fix)


def _exit_on_others(found: Found, fix: str | None) -> None:
    """Exit 1 for drift --fix does not restore: the environments' registries, what the cluster serves."""
    if found.environments and fix:
        click.echo("--fix restores the command's registry; `modelpins apply` restores the environments'", err=True)
    if found.served and fix:
        click.echo("--fix changes the registry only; `modelpins rollout` restores what the cluster serves", err=True)
    if found.environments or found.served:
        click.get_current_context().exit(1)


def _environments(s: Settings, p: pins.PinsFile, only: str | None, found: Found) -> MlflowRegistry | None:
    """Each environment's registry against the file, through the copies (into `found`); the command's
    registry, or None when the file pins aliases in environments' registries only."""
    from modelpins import crossenv

    envs = crossenv.from_settings(p, s.tracking_uri, s.registry)
    if envs is not None:
        found.environments = env_drift.drift(p, envs[0], only)
    return s.registry() if envs is None or crossenv.has_default_pins(p) else None


def _check_options(fix: str | None, ref: str | None, cluster: bool, cluster_options: tuple[object, ...]) -> None:
    """`cluster_options`: the values of --environment, --context, --dockerfile and --lock."""
    if fix == "file" and ref:
        raise InvalidInput("--fix file edits the working copy; drop --ref")
    if any(cluster_options) and not cluster:
        raise InvalidInput("--environment, --context, --dockerfile and --lock apply to --cluster; pass --cluster")


def _load(s: Settings, ref: str | None, only: str | None) -> pins.PinsFile:
    p = pins.load_at(s.pins, ref) if ref else pins.load(s.pins)
    if p is None:
        raise InvalidInput(f"{s.pins} does not exist at {ref}; commit it first")
    if only and only not in p.models:
        raise InvalidInput(f"model '{only}' is not in {s.pins}; models: {', '.join(p.models)}")
    return p


def _only(p: pins.PinsFile, served: list[ServedDrift], only: str | None) -> list[ServedDrift]:
    """The served differences of the deployments that serve `only` (all without it)."""
    if not only:
        return served
    serving = {d.name for d in p.deployments.values() if only in _models(p, d)}
    return [d for d in served if d.deployment in serving]


@dataclass
class Found:
    """What drift found, and how each output shows it."""

    source: str  # the pins file compared with, `path` or `path@ref`
    tracking_uri: str
    registry: list[Drift] | None = None
    served: list[ServedDrift] | None = None  # None: the cluster was not compared
    where: str = ""
    environments: list[EnvDrift] | None = None  # None: the file pins nothing in environments' registries

    def markdown(self) -> str:
        text = "" if self.registry is None else registry_drift.markdown(self.registry, self.source, self.tracking_uri)
        if self.environments is not None:
            text += "\n" + env_drift.markdown(self.environments, self.source)
        if self.served is not None:
            text += "\n" + served_drift.markdown(self.served, self.source, self.where)
        return text

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"drift": [d.as_json() for d in self.registry or []]}
        if self.environments is not None:
            out["environments"] = [d.as_json() for d in self.environments]
        if self.served is not None:
            out["served"] = [d.as_json() for d in self.served]
        return out

    def text(self, cluster: bool) -> str:
        src, aliases = self.source, ("drifted alias", "drifted aliases")
        return "\n".join(
            _section(self.registry, registry_drift.table, aliases, f": {self.tracking_uri} differs from {src}",
                     f"No {'registry ' if cluster else ''}drift: {self.tracking_uri} matches {src}.")
            + _section(self.environments, env_drift.table, aliases, f" in the environments' registries: they differ "
                       f"from {src}", f"No drift in the environments' registries: they match {src}.")
            + _section(self.served, served_drift.table, ("served difference", "served differences"),
                       f": {self.where} differs from {src}", f"No served drift: {self.where} matches {src}.")
        )  # fmt: skip


T = TypeVar("T")  # what one kind of drift finds


def _section(
    found: list[T] | None, table: Callable[[list[T]], str], noun: tuple[str, str], rest: str, clean: str
) -> list[str]:
    """One kind of drift: its table and "N noun<rest>" when some is found, `clean` when it was checked and none
    is, nothing when it was not checked (None)."""
    if found:
        return [table(found), f"{len(found)} {noun[len(found) != 1]}{rest}"]
    return [] if found is None else [clean]


def _models(p: pins.PinsFile, dep: pins.Deployment) -> set[str]:
    from modelpins.serving.tracks import tracks

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
    from modelpins.serving import image_lock
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
        current = image_lock.loads(data, f"{lock_file}@{ref}") if data is not None else image_lock.ImageLock()
    else:
        current = image_lock.load(lock_file)
    docker_bytes = (_at_ref(s, docker_file, ref) if ref and not dockerfile else None) or read_dockerfile(docker_file)
    classic_file = docker_file.with_name("Dockerfile.mlflow")
    classic = (_at_ref(s, classic_file, ref) if ref and not dockerfile else None) or classic_dockerfile(docker_file)
    from modelpins.integrity import artefact_lock

    model_lock_path = artefact_lock.path_for(s.pins)
    if ref:
        data = _at_ref(s, model_lock_path, ref)
        locked = locked_artefacts(s.pins, data, f"{model_lock_path}@{ref}") if data is not None else None
    else:
        locked = locked_artefacts(s.pins)
    rendered = {
        name: (env.namespace, resolved(p, current, docker_bytes, name, locked, classic))
        for name, env in p.environments.items()
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
    from modelpins.commands.core import head_guards, report_moves

    repo, _ = gitrepo.locate(s.pins)
    ctx = from_env(os.environ, s.pins.resolve().parent, commit=gitrepo.resolve(repo, ref))
    guard = head_guards(s, registry, {}, ctx, None).get(None)
    if guard:
        guard.check()  # a checkout behind what its branch last applied would undo a newer merge: refused
    request = write.MoveRequest(
        s.pins,
        p,
        lock_ttl=envvars.number("MODELPINS_LOCK_TTL", 600, MIN_LOCK_TTL, 86400),
        reason="drift-fix",
        report=write.Report(notify=lambda message: click.echo(message, err=True)),
        guard=guard,
    )
    moved = write.move_aliases(request, registry, ctx)
    report_moves(moved.result, "restored", err=as_json)
