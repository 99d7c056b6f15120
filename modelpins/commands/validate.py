"""validate: offline it imports only the pins schema and the serving rules, so that it starts fast."""

from __future__ import annotations

import click

from modelpins import pins, text
from modelpins.errors import Problem
from modelpins.settings import Settings


@click.command()
@click.option("--offline", is_flag=True, help="Check the file only, even when a tracking URI is set.")
@click.pass_obj
def validate(s: Settings, offline: bool) -> None:
    """Check the pins file; with a tracking server, also that every pinned version exists and is READY."""
    p = pins.load(s.pins)
    counted = f"{text.count(len(p.pins()), 'pin')} across {text.count(len(p.models), 'model')}"
    from modelpins.serving import checks  # serving rules beyond the schema (pure, offline)

    checks.check(p)
    _warn_ownerless(s, p)
    _warn(checks.warnings(p))
    pinned = {e for m in p.models.values() for e in m.environments}
    own = all(spec.registry and spec.registry.tracking_uri for e, spec in p.environments.items() if e in pinned)
    default_pins = True
    if pinned and not offline and (s.tracking_uri or own):
        from modelpins import crossenv  # each environment's pins exist there, and the soak times allow them

        found = crossenv.from_settings(p, s.tracking_uri, s.registry)
        if found:
            crossenv.enforce_soak(found[0])
            envs = ", ".join(crossenv.pinned_environments(p))
            click.echo(f"{s.pins}: the pins of {envs} exist in their registries")
        default_pins = crossenv.has_default_pins(p)
    if not offline and s.tracking_uri and default_pins:
        from modelpins import api

        registry = s.registry()
        api.validate_live(p, registry)
        from modelpins.integrity import artefact_lock  # model_pins.lock, when present: artefacts still match

        artefact_lock.enforce(s.pins, p, registry, [(m, pin.version) for m, pin in p.pins()])
        click.echo(f"{s.pins}: valid; {counted} exist in {s.shown_uri}")
    else:
        click.echo(f"{s.pins}: valid ({counted}; registry not checked)")


def _warn(found: list[Problem]) -> None:
    """Print each problem as a warning (exit status unchanged), and annotate it on GitHub Actions."""
    from modelpins import actions

    for w in found:
        click.secho(f"warning: {w}", fg="yellow", err=True)
        actions.annotate_warning(f"{w.message}; fix: {w.fix}", w.path, w.line)


def _warn_ownerless(s: Settings, p: pins.PinsFile) -> None:
    """Warn (exit status unchanged) for each model that has no owners, nor file-level owners to fall back on."""
    if p.owners:
        return
    from modelpins import actions

    for m in p.models.values():
        if not m.owners:
            msg = (
                f"{m.name} has no owners (and the file has none): `modelpins approvals` fails every change to it. "
                'Add `owners: ["@org/team"]` to the model or to the file'
            )
            click.secho(f"warning: {s.pins}:{m.line}: {msg}", fg="yellow", err=True)
            actions.annotate_warning(msg, str(s.pins), m.line)
