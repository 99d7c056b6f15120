"""Promotion order and soak time: since when a version holds the previous environment's alias."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from modelpins import api
from modelpins.crossenv.model import Promotions, Source, Wait
from modelpins.errors import GateFailed
from modelpins.pins import EnvPin, ModelPins, PinsFile
from modelpins.registry import MlflowRegistry, VersionInfo


def soak_check(
    pins: PinsFile,
    m: ModelPins,
    pin: EnvPin,
    source: Source,
    info: VersionInfo | None,
    registries: Mapping[str, MlflowRegistry],
    now: float,
) -> list[Wait]:
    """The soak check of one promote_from pin: since when its version holds the source alias (audit tags)."""
    assert pin.promote_from is not None
    soak = pins.promotion.soak.get(pin.promote_from.environment, 0.0)
    if not soak or info is None:
        return []
    since = held_since(info, pin.promote_from.alias)
    return [
        Wait(
            pins.path,
            pin.promote_from.line or pin.line,
            f"{m.name}@{pin.alias} in {pin.environment}",
            str(pin.promote_from),
            source.version,
            since,
            soak,
            now,
            pin.override,
        )
    ]


def held_since(info: VersionInfo, alias: str) -> float | None:
    """When the version last took `alias`, from its audit records; None when no record says it holds it."""
    records = api.audit_entries(info.tags, alias)
    last = records[-1][1] if records else None
    if not last or last.get("to") != info.version or last.get("action") == "delete":
        return None
    try:
        return datetime.strptime(str(last.get("at", "")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def enforce_soak(promos: Promotions) -> None:
    """GateFailed (exit 1) naming each pin the promotion order refuses for now, and when it will be allowed."""
    refused = promos.refused
    if refused:
        count = len(refused)
        raise GateFailed(
            f"{count} promotion{'s' if count != 1 else ''} before the soak time is over:\n"
            + "\n".join(str(w) for w in refused)
        )
