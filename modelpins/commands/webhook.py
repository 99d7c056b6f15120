"""webhook serve: the drift webhook receiver, a thin command over modelpins.drift.receiver."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import click

from modelpins import envvars
from modelpins.commands.params import FiniteFloat
from modelpins.drift import receiver
from modelpins.drift import webhook as webhook_mod
from modelpins.errors import InvalidInput
from modelpins.redact import without_credentials
from modelpins.settings import Settings

SECRET_VAR = "MODELPINS_WEBHOOK_SECRET"  # noqa: S105 - the name of the variable, not a secret


@click.group()
def webhook() -> None:
    """Receive MLflow registry webhooks (report drift when an alias is changed by hand)."""


@webhook.command()
@click.option("--ref", help="Compare with the pins file at this git ref (e.g. origin/main).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks a free port.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Append one JSON line per event.")
@click.option("--on-drift", help="Command run (no shell) with the report line on stdin when a model drifted.")
@click.option(
    "--on-drift-env",
    "on_drift_env",
    multiple=True,
    metavar="NAME",
    help="Pass this variable to the --on-drift command (repeatable). Credentials are not passed unless named.",
)
@click.option(
    "--on-drift-timeout", type=FiniteFloat(0.1, 3600), default=60.0, show_default=True, help="Seconds per run."
)
@click.option(
    "--max-body", type=click.IntRange(1, 64 * 1024 * 1024), default=1024 * 1024, show_default=True, help="Bytes."
)
@click.option("--max-connections", type=click.IntRange(1, 1024), default=32, show_default=True)
@click.option(
    "--request-timeout",
    type=FiniteFloat(0.1, 300),
    default=10.0,
    show_default=True,
    help="Seconds a client has to send a whole request.",
)
@click.pass_obj
def serve(
    s: Settings,
    ref: str | None,
    host: str,
    port: int,
    report: Path | None,
    on_drift: str | None,
    on_drift_env: tuple[str, ...],
    on_drift_timeout: float,
    max_body: int,
    max_connections: int,
    request_timeout: float,
) -> None:
    """Check each signed alias event against the pins file; print and append one JSON line per event.

    The secret is read from $MODELPINS_WEBHOOK_SECRET (the one the webhook was registered with).
    Unsigned, forged, stale or replayed deliveries get 401 and change nothing; a failure to read
    the registry gets 503, so MLflow delivers the event again.
    """
    secret = envvars.secret(SECRET_VAR, pattern=envvars.SECRET)
    if not secret:
        raise InvalidInput(f"{SECRET_VAR} is not set; set it to the secret the webhook was registered with")
    verifier = webhook_mod.Verifier(secret)
    hook = split_command(on_drift)
    if on_drift is not None:
        check_program(hook)
    config = receiver.Config(
        s.pins,
        ref,
        report,
        hook,
        receiver.Limits(
            max_body=max_body,
            max_connections=max_connections,
            request_timeout=request_timeout,
            read_timeout=min(request_timeout, 5.0),
            hook_timeout=on_drift_timeout,
        ),
        hook_environment(on_drift_env),
    )
    try:
        server = receiver.serve(config, verifier, s.registry(), host, port)
    except OSError as exc:
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"listening on http://{host}:{server.server_address[1]}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def hook_environment(names: tuple[str, ...]) -> dict[str, str]:
    """The --on-drift command's environment: ours without credentials (the webhook's secret, the registry's
    token, GITHUB_TOKEN: redact.CHILD_DROPS), plus each variable named by --on-drift-env, which must be set."""
    env = without_credentials(os.environ)
    for name in names:
        if name not in os.environ:
            raise InvalidInput(f"--on-drift-env {name}: not set here; set it or drop the option")
        env[name] = os.environ[name]
    return env


def split_command(on_drift: str | None) -> tuple[str, ...]:
    """--on-drift's words, split as a shell would (no shell runs them); InvalidInput when the quoting is unclosed."""
    try:
        return tuple(shlex.split(on_drift)) if on_drift else ()
    except ValueError as exc:
        raise InvalidInput(
            f"--on-drift {on_drift!r}: {exc} (the quotes are not closed); fix: close every quote, "
            'e.g. --on-drift "python notify.py"'
        ) from None


def check_program(argv: tuple[str, ...]) -> None:
    """A clear error at startup when the --on-drift program cannot be run."""
    if not argv:
        raise InvalidInput("--on-drift is empty; pass a command, e.g. --on-drift 'python notify.py'")
    program = argv[0]
    found = shutil.which(program)
    if found is None:
        where = "is not an executable file" if os.sep in program else "is not on PATH"
        raise InvalidInput(f"--on-drift: program '{program}' {where}; install it or pass its full path")
