"""The `modelpins` command line: global options, lazy command loading, one error boundary.

Commands are imported only when run, so `modelpins --help` and an offline
`modelpins validate` never import mlflow, docker or kubernetes.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from modelpins import __version__, escape, redact
from modelpins.errors import ModelPinsError
from modelpins.settings import Settings

# name -> (module:attribute, one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "modelpins.commands.validate:validate",
        "Check model_pins.yaml (and, with a server, that every pin exists).",
    ),
    "plan": ("modelpins.commands.core:plan", "Show the alias changes that apply would make."),
    "apply": ("modelpins.commands.core:apply", "Make the registry's aliases match model_pins.yaml."),
    "gate": ("modelpins.commands.gate:gate", "Run the promotion gates of every alias that moves; record the evidence."),
    "report": ("modelpins.commands.pr:report_cmd", "Write the pull-request comment: validation, plan vs base, gates."),
    "comment": ("modelpins.commands.pr:comment", "Post or update the one modelpins comment on a pull request."),
    "approvals": ("modelpins.commands.pr:approvals", "Fail unless every changed model has an owner's approval."),
    "find-pr": ("modelpins.commands.pr:find_pr", "Print the open pull request whose head is a commit (a fork's)."),
    "commit-status": ("modelpins.commands.pr:commit_status", "Set a commit status (e.g. the gates of a fork's head)."),
    "codeowners": ("modelpins.commands.pr:codeowners", "Write or --check the generated CODEOWNERS section."),
    "status": (
        "modelpins.commands.board:status",
        "The promotion board: each alias's version, age, promoter, gate evidence, drift (--json).",
    ),
    "site": (
        "modelpins.commands.board:site",
        "Write the promotion board as a static site (HTML, CSS, SVG) to --out DIR.",
    ),
    "canary": (
        "modelpins.commands.canary:canary",
        "Canary steps on live Prometheus evidence: status, advance (weight, alias move or rollback).",
    ),
    "history": (
        "modelpins.commands.lifecycle:history",
        "Every alias transition: git history joined with MLflow audit tags.",
    ),
    "import": ("modelpins.commands.adopt:import_cmd", "Write the pins file from the registry's current aliases."),
    "promote": (
        "modelpins.commands.adopt:promote",
        "Point MODEL@ALIAS at a READY version in the pins file (a one-line diff; --branch, --open-pr).",
    ),
    "rollback": (
        "modelpins.commands.lifecycle:rollback",
        "Point MODEL@ALIAS back at its previous version (a one-line diff).",
    ),
    "drift": (
        "modelpins.commands.drift:drift",
        "Compare the registry (and, with --cluster, what is served) with the pins file; exit 1 on drift.",
    ),
    "lineage": (
        "modelpins.commands.lifecycle:lineage",
        "Run, params, dataset, code commit and base/teacher of MODEL@ALIAS.",
    ),
    "lock": ("modelpins.commands.lifecycle:lock", "Write (or --check) model_pins.lock: run, source, artefact digest."),
    "sign": (
        "modelpins.commands.signing:sign",
        "Sign the artefacts of MODEL@ALIAS or MODEL/VERSION (key, certificate, or keyless Sigstore).",
    ),
    "verify": ("modelpins.commands.signing:verify", "Check the signature of MODEL@ALIAS against who must have signed."),
    "card": ("modelpins.commands.lifecycle:card", "Write a markdown model card for MODEL@ALIAS and attach it."),
    "build": ("modelpins.commands.serving:build", "Build (and push) the vLLM serving image of every deployment."),
    "render": ("modelpins.commands.serving:render", "Write the Kubernetes manifests of every deployment."),
    "rollout": ("modelpins.commands.serving:rollout", "Apply the manifests to a cluster, wait, roll back on failure."),
    "webhook": ("modelpins.commands.webhook:webhook", "Receive MLflow registry webhooks; report drift at once."),
    "schema": ("modelpins.commands.schema:schema", "Print (or --check) the JSON Schema of model_pins.yaml."),
}


# Where each command is documented: the documentation site's command-line reference (docs/reference/cli.md,
# generated from these definitions), one section per command, `#modelpins-<command>[-<subcommand>]`.
REFERENCE = "docs/reference/cli/"


def reference_path(command_path: str) -> str:
    """The URL path of a command's reference section, e.g. docs/reference/cli/#modelpins-webhook-serve."""
    return f"{REFERENCE}#{'-'.join(command_path.split())}"


def with_reference(command: click.Command, command_path: str) -> click.Command:
    """`command` (and each subcommand of a group) with its --help ending in its reference path; idempotent."""
    line = f"Reference: {reference_path(command_path)}"
    if line not in (command.epilog or ""):
        command.epilog = f"{command.epilog}\n\n{line}" if command.epilog else line
    for name, sub in getattr(command, "commands", {}).items():
        with_reference(sub, f"{command_path} {name}")
    return command


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[cmd_name][0].partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return with_reference(command, f"modelpins {cmd_name}")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=f"Reference: {reference_path('modelpins')}",
)
@click.option(
    "--pins",
    "pins",
    type=click.Path(path_type=Path),
    default=Path("model_pins.yaml"),
    show_default=True,
    help="The pins file.",
)
@click.option(
    "--tracking-uri",
    envvar="MLFLOW_TRACKING_URI",
    default=None,
    help="MLflow tracking server URL (default: $MLFLOW_TRACKING_URI).",
)
@click.option("--traceback", is_flag=True, help="Show the Python traceback of an unexpected error.")
@click.version_option(__version__, prog_name="modelpins")
@click.pass_context
def cli(ctx: click.Context, pins: Path, tracking_uri: str | None, traceback: bool) -> None:
    """Keep an MLflow Model Registry's aliases in step with model_pins.yaml in git.

    Exit codes: 0 ok, 1 a gate or operation failed, 2 invalid input, 3 unexpected.
    """
    redact.register(tracking_uri)
    from_env = ctx.get_parameter_source("tracking_uri") == click.core.ParameterSource.ENVIRONMENT
    source = "MLFLOW_TRACKING_URI" if from_env else "--tracking-uri"
    ctx.obj = Settings(pins=pins, given_uri=tracking_uri or None, traceback=traceback, uri_source=source)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map every outcome to an exit code; credentials are redacted from all it prints."""
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = redact.RedactingStream(sys.stdout), redact.RedactingStream(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _main(argv: list[str] | None) -> int:
    show_traceback = "--traceback" in (argv if argv is not None else sys.argv[1:])
    if os.environ.get("_MODELPINS_COMPLETE", "").startswith("bash_"):  # bash: the word under the cursor whole
        from click.shell_completion import add_completion_class

        from modelpins.completion import Bash

        add_completion_class(Bash, "bash")
    try:
        code = cli.main(args=argv, prog_name="modelpins", standalone_mode=False)
    except ModelPinsError as exc:
        _report(exc)
        if show_traceback:
            _print_traceback()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.secho("aborted: nothing was changed", fg="red", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary for bugs
        if show_traceback:
            _print_traceback()
        click.secho(
            f"unexpected error: {type(exc).__name__}: {escape.block(str(exc))}\n"
            "This is a bug in modelpins; rerun with --traceback and report it.",
            fg="red",
            err=True,
        )
        return 3
    return code if isinstance(code, int) else 0


def _print_traceback() -> None:
    import traceback  # deferred: only an error with --traceback needs it (and linecache, tokenize)

    traceback.print_exc()


def _report(exc: ModelPinsError) -> None:
    click.secho(f"error: {escape.block(str(exc))}", fg="red", err=True)
    from modelpins import actions

    if actions.in_actions():
        actions.annotate_error(exc)
