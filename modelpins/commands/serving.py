"""build, render, rollout: what the pinned versions run as."""

from __future__ import annotations

from pathlib import Path

import click

from modelpins import pins
from modelpins.cli import Settings
from modelpins.errors import InvalidInput


def deploy_dir(s: Settings) -> Path:
    return s.pins.resolve().parent / "deploy"


def read_dockerfile(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"{path}: cannot read the serving Dockerfile ({exc.strerror}); fix: pass --dockerfile PATH "
            "or keep it at deploy/Dockerfile next to the pins file"
        ) from None


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
@click.pass_obj
def render(s: Settings, out: Path, dockerfile: Path | None, lock_path: Path | None) -> None:
    """Write Kubernetes manifests for every deployment and environment (offline, byte-identical on re-runs)."""
    from modelpins.serving import lock
    from modelpins.serving.files import write_tree
    from modelpins.serving.render import render as render_files

    p = pins.load(s.pins)
    files = render_files(
        p,
        lock.load(lock_path or deploy_dir(s) / "images.lock.json"),
        read_dockerfile(dockerfile or deploy_dir(s) / "Dockerfile"),
    )
    changes = write_tree(out, files)
    for rel in changes.written:
        click.echo(f"wrote    {out / rel}")
    for rel in changes.removed:
        click.echo(f"removed  {out / rel}")
    click.echo(
        f"Rendered {len(p.deployments)} deployments in {len(p.environments)} environments to {out}/: "
        f"{len(changes.written)} written, {len(changes.removed)} removed, {changes.unchanged} unchanged."
    )
