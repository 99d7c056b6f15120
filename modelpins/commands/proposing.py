"""The printed end of promote and rollback: the edit's diff, then the commit and pull request, or how to open one."""

from __future__ import annotations

import os
from collections.abc import Callable

import click

from modelpins.proposals import proposal, yamledit
from modelpins.settings import Settings


def propose(
    s: Settings,
    source: yamledit.Source,
    new_text: str,
    branch: str | None,
    open_pr: bool,
    message: str,
    title: str,
    body: Callable[[str], str],
) -> None:
    """Write the edit in place, or commit it on `branch` and open the pull request; print what was done."""
    done = proposal.propose(s.pins, source, new_text, branch, open_pr, os.environ, message, title, body)
    click.echo(done.diff, nl=False)
    if not done.branch:
        return
    click.echo(f"committed {done.sha[:12]} on branch '{done.branch}'")
    if done.pr_url:
        click.echo(f"opened pull request {done.pr_url}")
        return
    click.echo("your checkout is unchanged: the commit is on the branch only")
    if done.no_origin:
        click.echo("this repository has no remote 'origin', so there is nowhere to push the branch yet; add one")
        click.echo("  (git remote add origin URL), then open the pull request with:")
    else:
        why = " (GITHUB_TOKEN is not set)" if done.no_token else ""
        click.echo(f"open the pull request with{why}:")
    click.echo(f"  {done.gh_command}")
