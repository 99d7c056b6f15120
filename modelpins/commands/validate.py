"""validate: offline it imports only the pins schema and the serving rules, so that it starts fast."""

from __future__ import annotations

import click

from modelpins import pins
from modelpins.settings import Settings


@click.command()
@click.option("--offline", is_flag=True, help="Check the file only, even when a tracking URI is set.")
@click.pass_obj
def validate(s: Settings, offline: bool) -> None:
    """Check the pins file; with a tracking server, also that every pinned version exists and is READY."""
    p = pins.load(s.pins)
    count = len(p.pins())
    from modelpins.serving import checks  # serving rules beyond the schema (pure, offline)

    checks.check(p)
    if s.tracking_uri and not offline:
        from modelpins import api

        registry = s.registry()
        api.validate_live(p, registry)
        from modelpins.lifecycle import artefact_lock  # model_pins.lock, when present: artefacts still match

        artefact_lock.enforce(s.pins, p, registry, [(m, pin.version) for m, pin in p.pins()])
        click.echo(f"{s.pins}: valid; {count} pins across {len(p.models)} models exist in {s.shown_uri}")
    else:
        click.echo(f"{s.pins}: valid ({count} pins across {len(p.models)} models; registry not checked)")
