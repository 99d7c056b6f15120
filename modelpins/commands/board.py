"""status and site: the promotion board as a terminal table (or JSON) and as a static site."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import click

from modelpins import envvars, pins
from modelpins.board import model, reads
from modelpins.board.views import Board
from modelpins.errors import InvalidInput
from modelpins.settings import Settings

REPO_URL = envvars.HTTP_URL


def board_of(s: Settings, repo_url: str | None, ui_url: str | None) -> Board:
    """Read the registry once and build the board; `repo_url` defaults to the GitHub Actions run's repository."""
    if repo_url is not None and not REPO_URL.fullmatch(repo_url):
        raise InvalidInput(f"--repo-url '{repo_url}' is not an http(s) URL; give https://github.com/OWNER/NAME")
    if ui_url is not None and not REPO_URL.fullmatch(ui_url):
        raise InvalidInput(f"--mlflow-ui '{ui_url}' is not an http(s) URL; give MLflow's address as users open it")
    registry = s.registry()
    desired = pins.load(s.pins)
    if repo_url is None:
        repository = envvars.text("GITHUB_REPOSITORY", os.environ, envvars.REPOSITORY, "OWNER/NAME")
        server = envvars.text("GITHUB_SERVER_URL", os.environ, envvars.HTTP_URL, "an http(s) URL without spaces")
        repo_url = f"{server or 'https://github.com'}/{repository}" if repository else ""
    seen = reads.read(desired, registry)
    return model.build(desired, seen, s.tracking_uri or "", datetime.now(timezone.utc), repo_url, ui_url or "")


repo_option = click.option(
    "--repo-url",
    metavar="URL",
    help="The repository, for pull-request links (default: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY).",
)
ui_option = click.option(
    "--mlflow-ui", "ui_url", metavar="URL", help="MLflow's UI address for links, when not the tracking URI."
)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the board as JSON.")
@repo_option
@ui_option
@click.pass_obj
def status(s: Settings, as_json: bool, repo_url: str | None, ui_url: str | None) -> None:
    """What every alias serves, since when, who promoted it, on what evidence; drift and pending changes."""
    from modelpins.board import text

    board = board_of(s, repo_url, ui_url)
    click.echo(json.dumps(board.as_json(), indent=2) if as_json else text.table(board))


@click.command()
@click.option(
    "--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory to write."
)
@repo_option
@ui_option
@click.pass_obj
def site(s: Settings, out: Path, repo_url: str | None, ui_url: str | None) -> None:
    """Write the promotion board as a static site (HTML, CSS, inline SVG, a search script) into DIR."""
    from modelpins import progress
    from modelpins import site as site_mod

    board = board_of(s, repo_url, ui_url)
    with progress.shown("site: model pages", len(board.models)) as step:
        pages = site_mod.write(board, out, step)
    click.echo(f"Wrote {len(pages)} pages to {out}/ ({board.requests} registry requests); open {out / 'index.html'}")
