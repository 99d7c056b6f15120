"""Pull-request commands: report, comment, approvals, codeowners. Each is one workflow step."""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path

import click

from modelpins import actions, api, markdown, pins, safe_write
from modelpins import approvals as approvals_core
from modelpins import codeowners as codeowners_core
from modelpins.context import from_env
from modelpins.errors import GateFailed, InvalidInput, InvalidPins, OperationFailed
from modelpins.redact import hidden_uri, redact
from modelpins.settings import Settings

OUTCOMES = ("success", "failure", "skipped", "cancelled", "")


@click.command("report")
@click.option("--base", metavar="REF", required=True, help="The PR's base, e.g. origin/main.")
@click.option(
    "--gates",
    "gates_file",
    type=click.Path(dir_okay=False),
    help="Gate table written by `modelpins gate --report`; included when the file exists.",
)
@click.option(
    "--gates-outcome",
    type=click.Choice(OUTCOMES),
    default="",
    help="How the gate step ended (a workflow's steps.<id>.outcome).",
)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Write the comment body (markdown) here.")
@click.option(
    "--no-comment", "summary_only", is_flag=True, help="The report goes to the job summary only (no PR comment)."
)
@click.pass_obj
def report_cmd(
    s: Settings, base: str, gates_file: str | None, gates_outcome: str, out: str, summary_only: bool
) -> None:
    """Build the PR comment: validation, the plan against the base, owners, gates. Also the job summary.

    Exits 0 once the report is written, whatever it says: the validate, plan and gate steps decide the check.
    """
    r = markdown.PrReport(pins_path=str(s.pins), base=base, gates_outcome=gates_outcome)
    r.registry_given, r.commented = bool(s.tracking_uri), not summary_only
    ctx = from_env(os.environ, s.pins.resolve().parent)
    r.commit, r.run_url = ctx.commit, ctx.run_url
    if gates_file and Path(gates_file).is_file():
        r.gates = Path(gates_file).read_text(encoding="utf-8")
    try:
        head = pins.load(s.pins)
        base_pins = pins.load_at(s.pins, base)
    except InvalidPins as exc:
        r.problems = exc.problems
    else:
        r.owners = approvals_core.requirements(base_pins, head, str(s.pins))
        r.changes, _, _ = api.plan_against_base(head, base_pins)
        if s.tracking_uri:
            try:
                r.changes, r.registry, versions = api.plan_against_base(head, base_pins, s.registry())
                r.cards = markdown.cards(r.changes, versions, s.tracking_uri)
                if hidden_uri():  # the URI is a secret: no links into the registry
                    r.cards = [dataclasses.replace(c, url="") for c in r.cards]
            except InvalidPins as exc:
                r.problems = exc.problems
            except OperationFailed as exc:
                r.registry_note = f"registry not read: {exc}"
        _environments(s, head, r)
    body = markdown.pr_comment(r)
    safe_write.write_file(Path(out), redact(body), "--out")
    actions.step_summary(body)
    actions.set_output("report", out)
    click.echo(f"wrote {out}: {'ready' if r.ready else 'not ready'}, {len(r.changes)} alias changes")


@click.command()
@click.option("--pr", "pr", type=click.IntRange(min=1), required=True, help="Pull request number.")
@click.option("--body-file", type=click.Path(exists=True, dir_okay=False), required=True, help="Markdown body.")
@click.option(
    "--author",
    default="github-actions[bot]",
    show_default=True,
    help="Login that posts with the token; only its comments are edited.",
)
@click.option(
    "--warn-if-refused",
    is_flag=True,
    help="When GitHub refuses the comment (403, e.g. a read-only token), warn and exit 0: the check's "
    "result stays the gates', and the job summary holds the report.",
)
def comment(pr: int, body_file: str, author: str, warn_if_refused: bool) -> None:
    """Post the PR comment, or edit this tool's earlier one (one comment per PR, updated on each push).

    Uses $GITHUB_TOKEN, $GITHUB_REPOSITORY and $GITHUB_API_URL; the token is never printed.
    """
    from modelpins import github_api

    gh = github_api.from_env()
    try:
        action, data = gh.upsert_comment(pr, Path(body_file).read_text(encoding="utf-8"), author=author)
    except github_api.GitHubError as exc:
        if not (warn_if_refused and exc.status == 403):
            raise
        why = f"the pull request comment could not be posted ({exc}); the report is in this job's summary"
        click.secho(f"warning: {why}", fg="yellow", err=True)
        actions.annotate_warning(why)
        actions.step_summary(f"⚠️ {why}: the token this job has cannot write to the pull request.")
        return
    click.echo(f"{action} comment {data.get('html_url') or data.get('id')}")


@click.command()
@click.option("--base", metavar="REF", required=True, help="The PR's base, e.g. origin/main.")
@click.option("--pr", "pr", type=click.IntRange(min=1), required=True, help="Pull request number.")
@click.option("--head-sha", metavar="SHA", help="Count only approvals of this commit (the PR head).")
@click.pass_obj
def approvals(s: Settings, base: str, pr: int, head_sha: str | None) -> None:
    """Fail unless every changed model has an approving review from one of its owners.

    Reviews are read with $GITHUB_TOKEN. @user owners match reviewers' logins; @org/team owners
    need $MODELPINS_TEAMS_TOKEN, a token that can read the org's teams (a workflow's GITHUB_TOKEN
    cannot); without one, list @user owners or rely on the CODEOWNERS review.
    """
    from modelpins import github_api

    head = pins.load(s.pins)
    required = approvals_core.requirements(pins.load_at(s.pins, base), head, str(s.pins))
    if not required:
        text = f"{s.pins}: no change relative to {base} that needs an owner's approval"
        actions.step_summary(f"**Approvals**: ✅ {text}.")
        click.echo(f"ok   {text}")
        return
    gh = github_api.from_env()
    teams = github_api.from_env(env_var="MODELPINS_TEAMS_TOKEN") if os.environ.get("MODELPINS_TEAMS_TOKEN") else gh
    reviews = gh.reviews(pr)
    logins = approvals_core.approvers(reviews, head_sha)
    blocking = approvals_core.requesting_changes(reviews)
    results = approvals_core.check(required, logins, teams.team_member)
    text = markdown.approvals_markdown(results)
    actions.step_summary(text)
    for a in results:
        asked = [login for login in blocking if login in {o.lstrip("@").lower() for o in a.owners}] or blocking
        who = ", ".join(a.approved_by) or (
            f"nobody; changes requested by {', '.join(asked)}" if asked else "nobody yet"
        )
        click.echo(
            f"{'ok  ' if a.ok else 'MISSING'} {a.subject}: owners {' '.join(a.owners) or '(none)'}; approved by {who}"
        )
    missing = [a for a in results if not a.ok]
    if missing:
        hint = ""
        if any(a.unknown for a in missing):
            hint = (
                "\nTeam membership could not be read: set MODELPINS_TEAMS_TOKEN to a token that can read the "
                "organization's members (read:org), or list @user owners, or rely on the CODEOWNERS review."
            )
        raise GateFailed(approvals_core.missing_message(missing, str(s.pins)) + hint)


@click.command("find-pr")
@click.option("--head-sha", metavar="SHA", required=True, help="The pull request's head commit.")
@click.option("--head-repo", metavar="OWNER/NAME", default="", help="The repository the head is in (a fork).")
@click.option("--missing-ok", is_flag=True, help="Exit 0 (no output) when no open pull request has that head.")
def find_pr(head_sha: str, head_repo: str, missing_ok: bool) -> None:
    """Print the number of the open pull request whose head is SHA (step output `number`); exit 1 if none.

    A `workflow_run` event names no pull request for a fork; GitHub's list of open pull requests does.
    """
    from modelpins import github_api

    pull = github_api.from_env().open_pull_for(head_sha, head_repo)
    if pull is None:
        why = f"no open pull request has head {head_sha[:12]} (closed, or pushed to since: that push is checked)"
        if not missing_ok:
            raise OperationFailed(why)
        click.echo(f"nothing to do: {why}")
        return
    number = int(pull["number"])
    actions.set_output("number", str(number))
    actions.set_output("base-sha", str((pull.get("base") or {}).get("sha") or ""))
    click.echo(number)


@click.command("commit-status")
@click.option("--sha", required=True, help="The commit (a pull request's head).")
@click.option("--state", type=click.Choice(["pending", "success", "failure", "error"]), required=True)
@click.option("--context", default="modelpins / gates", show_default=True, help="The status's name.")
@click.option("--description", default="", help="One line, up to 140 characters.")
@click.option("--target-url", default="", help="A link, e.g. the workflow run.")
def commit_status(sha: str, state: str, context: str, description: str, target_url: str) -> None:
    """Set a commit status: a check that branch protection can require, set by a trusted job."""
    from modelpins import github_api

    github_api.from_env().set_status(sha, state, context, description, target_url)
    click.echo(f"{context}: {state} on {sha[:12]}")


@click.command()
@click.option("--check", is_flag=True, help="Fail (exit 1) when the file is not up to date; write nothing.")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".github/CODEOWNERS"),
    show_default=True,
)
@click.option("--manifests", default="manifests", show_default=True, help="Directory the rendered manifests live in.")
@click.pass_obj
def codeowners(s: Settings, check: bool, path: Path, manifests: str) -> None:
    """Write (or --check) the generated modelpins section of CODEOWNERS from the owners in the pins file."""
    p = pins.load(s.pins)
    root = path.resolve().parent
    if root.name in (".github", "docs"):
        root = root.parent
    try:
        rel = s.pins.resolve().relative_to(root).as_posix()
    except ValueError:
        raise InvalidInput(f"{s.pins} is outside the repository that {path} belongs to ({root})") from None
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    wanted = codeowners_core.update(current, codeowners_core.section(p, rel, manifests), str(path))
    if current == wanted:
        click.echo(f"{path}: up to date")
        return
    if check:
        diff = difflib.unified_diff(current.splitlines(), wanted.splitlines(), str(path), "generated", lineterm="")
        click.echo("\n".join(diff))
        raise OperationFailed(f"{path} is out of date with {s.pins}: run `modelpins codeowners` and commit the result")
    path.parent.mkdir(parents=True, exist_ok=True)
    safe_write.write_file(path, wanted)
    click.echo(f"{path}: written")


def _environments(s: Settings, head: pins.PinsFile, r: markdown.PrReport) -> None:
    """The promotions across environments, with their soak checks, when the environments' registries answer."""
    from modelpins import crossenv

    try:
        found = crossenv.from_settings(head, s.tracking_uri, s.registry)
    except InvalidPins as exc:
        r.problems += exc.problems
        return
    except (OperationFailed, InvalidInput) as exc:
        r.registry_note = f"environments' registries not read: {exc}"
        return
    if found:
        r.environments = crossenv.markdown(found[0])
        r.soak_refused = bool(found[0].refused)
