"""build, render, rollout: what the pinned versions run as."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelpins import pins, progress, safe_write
from modelpins.commands.params import FiniteFloat
from modelpins.errors import InvalidInput
from modelpins.settings import Settings
from modelpins.yamlsrc import read_limited

if TYPE_CHECKING:
    from modelpins.layout import Locked


def deploy_dir(s: Settings) -> Path:
    return s.pins.resolve().parent / "deploy"


def locked_artefacts(pins_path: Path, data: bytes | None = None, where: str = "") -> Locked | None:
    """Sizes and layouts from model_pins.lock next to the pins file (or its `data` at a git ref); None: no lock."""
    from modelpins.integrity import artefact_lock
    from modelpins.layout import Locked

    path = artefact_lock.path_for(pins_path)
    locked = artefact_lock.read(path) if data is None else artefact_lock.loads(data, where or str(path))
    if locked is None:
        return None
    layouts = {key: e.layout for key, e in locked.entries.items() if e.layout}
    return Locked({key: e.bytes for key, e in locked.entries.items()}, layouts)


def _locked_digests(pins_path: Path) -> dict[tuple[str, int], str] | None:
    """The artefact digest of each version in model_pins.lock next to the pins file; None: no lock."""
    from modelpins.integrity import artefact_lock

    locked = artefact_lock.read(artefact_lock.path_for(pins_path))
    return {key: e.digest for key, e in locked.entries.items()} if locked else None


def read_dockerfile(path: Path) -> bytes:
    try:
        return read_limited(path)
    except OSError as exc:
        raise InvalidInput(
            f"{path}: cannot read the serving Dockerfile ({exc.strerror}); fix: pass --dockerfile PATH "
            "or keep it at deploy/Dockerfile next to the pins file"
        ) from None


def classic_dockerfile(serving: Path) -> bytes | None:
    """deploy/Dockerfile.mlflow next to the serving Dockerfile (None without one): it names MLflow's model server
    image before `build --push` records its digest."""
    try:
        return serving.with_name("Dockerfile.mlflow").read_bytes()
    except OSError:
        return None


dockerfile_option = click.option(
    "--dockerfile",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The serving Dockerfile (default: deploy/Dockerfile next to the pins file).",
)
lock_option = click.option(
    "--lock",
    "lock_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The image lock written by build (default: deploy/images.lock.json next to the pins file).",
)


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("manifests"),
    show_default=True,
    help="Directory to write: base/<deployment>/ and one overlay per environment.",
)
@dockerfile_option
@lock_option
@click.option("--verbose", "-v", is_flag=True, help="List every file written or removed.")
@click.pass_obj
def render(s: Settings, out: Path, dockerfile: Path | None, lock_path: Path | None, verbose: bool) -> None:
    """Write Kubernetes manifests for every deployment and environment (offline, byte-identical on re-runs)."""
    from modelpins.serving import image_lock
    from modelpins.serving.files import write_tree
    from modelpins.serving.render import render as render_files

    p = pins.load(s.pins)
    current = image_lock.load(lock_path or deploy_dir(s) / "images.lock.json")
    docker_path = dockerfile or deploy_dir(s) / "Dockerfile"
    docker_bytes = read_dockerfile(docker_path)
    classic = classic_dockerfile(docker_path)
    with progress.shown("render", len(p.deployments)) as step:
        files = render_files(p, current, docker_bytes, locked_artefacts(s.pins), step, classic)
    changes = write_tree(out, files)
    if verbose:
        for rel in changes.written:
            click.echo(f"wrote    {out / rel}")
        for rel in changes.removed:
            click.echo(f"removed  {out / rel}")
    click.echo(
        f"Rendered {len(p.deployments)} deployments in {len(p.environments)} environments to {out}/: "
        f"{len(changes.written)} written, {len(changes.removed)} removed, {len(changes.unchanged)} unchanged."
    )
    owner = {f"base/{d.name}": d.environment for d in p.deployments.values()}
    counts: dict[str, list[int]] = {}
    for column, paths in enumerate((changes.written, changes.unchanged, changes.removed)):
        for rel in paths:
            first, _, rest = rel.partition("/")
            env = owner.get(f"{first}/{rest.partition('/')[0]}", "(no longer rendered)") if first == "base" else first
            counts.setdefault(env, [0, 0, 0])[column] += 1
    for env, (written, unchanged, removed) in sorted(counts.items()):
        click.echo(f"  {env}: {written} written, {unchanged} unchanged, {removed} removed")


@click.command()
@click.option("--push", is_flag=True, help="Push new images and record them in the image lock.")
@click.option("--registry", default=None, help="Registry host/path for the images (default: images.registry).")
@click.option(
    "--sbom-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the CycloneDX SBOM of each image built goes (default: sbom/ next to the image lock).",
)
@click.option(
    "--subjects",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write '<sha256>  <image>' per pushed image here, for actions/attest-build-provenance (subject-checksums).",
)
@click.option(
    "--network",
    default=None,
    help="Network of the builds' RUN steps, as 'docker build --network' (e.g. host; default: the engine's).",
)
@dockerfile_option
@lock_option
@click.pass_obj
def build(
    s: Settings,
    push: bool,
    registry: str | None,
    sbom_dir: Path | None,
    subjects: Path | None,
    network: str | None,
    dockerfile: Path | None,
    lock_path: Path | None,
) -> None:
    """Build the serving image of every deployment; tags are content-addressed, existing tags are skipped.

    MLflow's model server image for classic models is built from deploy/Dockerfile.mlflow (next to the serving
    Dockerfile) on images.classic_base, unless the pins name it as images.classic.
    """
    from modelpins.context import from_env
    from modelpins.serving import image_lock
    from modelpins.serving.checks import check
    from modelpins.serving.images import Builder, DockerImages, mlflow_fetch, needs_classic
    from modelpins.serving.tracks import tracks

    p = pins.load(s.pins)
    registry = registry or p.images.registry
    if not registry:
        raise InvalidInput(f"{s.pins}: no registry for the images; fix: pass --registry HOST or set images.registry")
    dockerfile = dockerfile or deploy_dir(s) / "Dockerfile"
    read_dockerfile(dockerfile)
    lock_path = lock_path or deploy_dir(s) / "images.lock.json"
    baked = [d for d in p.deployments.values() if d.artifacts == "image"]
    if s.tracking_uri:  # before anything is built: every served version has the layout its runtime loads
        from modelpins.integrity import artefact_lock
        from modelpins.integrity.artifacts import Reader

        artefact_lock.check_layouts(p, s.registry(), Reader(s.registry(), s.tracking_uri), artefact_lock.served(p))
    fetch, run_ids, signatures = None, None, None
    if baked and s.tracking_uri:
        from modelpins.integrity.signing import recorded

        models = {r.model for d in baked for t in tracks(p, d) for r in t.refs()}
        versions = s.registry().versions(models)
        run_ids = {key: v.run_id for key, v in versions.items()}
        signed = {key: recorded(v.tags) for key, v in versions.items()}
        signatures = {key: sig.digest for key, sig in signed.items() if sig is not None and not isinstance(sig, str)}
        fetch = mlflow_fetch(s.tracking_uri)
    elif baked:
        s.registry()  # raises: these deployments need MLflow to fetch their artefacts
    current = image_lock.load(lock_path)
    builder = Builder(
        p,
        dockerfile,
        registry.rstrip("/"),
        DockerImages(network=network),
        push,
        commit=from_env(os.environ, s.pins.resolve().parent).commit,
        fetch=fetch,
        run_ids=run_ids,
        locked=_locked_digests(s.pins),
        signatures=signatures,
        sbom_dir=sbom_dir or lock_path.parent / "sbom",
    )
    check(p)
    images = sum(len(tracks(p, d)) for d in baked) + any(d.artifacts == "init" for d in p.deployments.values())
    images += needs_classic(p)
    with progress.shown("build", images) as step:
        results = builder.run(current, step)
    for r in results:
        click.echo(f"{r.status:8} {r.key:32} {r.image}" + (f"  (SBOM {r.sbom})" if r.sbom else ""))
    if subjects is not None:
        lines = [
            f"{digest.removeprefix('sha256:')}  {ref.rpartition(':')[0]}"
            for ref, _, digest in (r.image.partition("@") for r in results)
            if digest.startswith("sha256:")
        ]
        subjects.unlink(missing_ok=True)  # no file when nothing was pushed: the attest step is skipped
        if lines:
            safe_write.write_file(subjects, "\n".join(lines) + "\n")
    if push:
        image_lock.save(current, lock_path)
        click.echo(f"Recorded {len(results)} images in {lock_path}.")
    else:
        click.echo(f"{len(results)} images ready locally (not pushed; {lock_path} unchanged).")


@click.command()
@click.option("--wait", is_flag=True, help="Wait until every Deployment is ready; roll back if one is not.")
@click.option("--timeout", type=FiniteFloat(min=1), default=1800, show_default=True, help="Seconds to wait.")
@click.option("--environment", "-e", "environments", multiple=True, help="Only this environment (repeatable).")
@click.option("--context", default=None, help="kubeconfig context (default: the current one).")
@click.option("--prune/--no-prune", default=True, show_default=True, help="Delete managed objects no longer rendered.")
@dockerfile_option
@lock_option
@click.pass_obj
def rollout(
    s: Settings,
    wait: bool,
    timeout: float,
    environments: tuple[str, ...],
    context: str | None,
    prune: bool,
    dockerfile: Path | None,
    lock_path: Path | None,
) -> None:
    """Server-side apply the rendered manifests, optionally wait, and roll back on failure or timeout."""
    from modelpins.serving import image_lock
    from modelpins.serving.cluster import Cluster
    from modelpins.serving.render import resolved
    from modelpins.serving.rollout import rollout as run_rollout

    p = pins.load(s.pins)
    unknown = [e for e in environments if e not in p.environments]
    if unknown:
        raise InvalidInput(f"unknown environment {', '.join(unknown)}; the pins file has: {', '.join(p.environments)}")
    current = image_lock.load(lock_path or deploy_dir(s) / "images.lock.json")
    docker_path = dockerfile or deploy_dir(s) / "Dockerfile"
    docker_file = read_dockerfile(docker_path)
    classic = classic_dockerfile(docker_path)
    chosen = environments or tuple(p.environments)
    locked = locked_artefacts(s.pins)
    objects = [o for env in chosen for o in resolved(p, current, docker_file, env, locked, classic)]
    # Prune only namespaces that no environment left out of this rollout shares.
    others = {e.namespace for name, e in p.environments.items() if name not in chosen}
    namespaces = tuple(
        dict.fromkeys(p.environments[e].namespace for e in chosen if p.environments[e].namespace not in others)
    )
    outcome = run_rollout(
        Cluster(context), objects, wait=wait, timeout=timeout, prune_in=namespaces if prune else (), report=click.echo
    )
    waited = f", {len(outcome.ready)} Deployments ready" if wait else " (not waiting: pass --wait)"
    click.echo(f"Applied {len(outcome.applied)} objects{waited}, pruned {len(outcome.pruned)}.")
