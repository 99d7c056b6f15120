"""MLflow registry webhooks: verify a delivery and turn an alias event into a drift report.

MLflow (3.x OSS) signs each delivery with the webhook's secret: header
`X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">`, with
`X-MLflow-Delivery-Id` and `X-MLflow-Timestamp` (Unix seconds). A delivery is accepted only
with all three headers, a timestamp within `TOLERANCE` seconds of now, a signature equal
(compared in constant time) to the one computed with the shared secret, and a delivery id
not seen before (replays within the tolerance window are refused).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelpins.lifecycle.drift import drift
from modelpins.pins import PinsFile

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
TOLERANCE = 300  # seconds between MLflow signing a delivery and the receiver checking it
ALIAS_EVENTS = {("model_version_alias", "created"), ("model_version_alias", "deleted")}


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class Verifier:
    """Checks deliveries against one shared secret; remembers recent delivery ids to refuse replays."""

    def __init__(self, secret: str, tolerance: int = TOLERANCE):
        if len(secret) < 16:
            raise ValueError("the webhook secret must be at least 16 characters")
        self.secret = secret
        self.tolerance = tolerance
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str | None:
        """None when the delivery is authentic and fresh, else why it is refused."""
        now = time.time() if now is None else now
        sig, ts, delivery = (headers.get(h) for h in (SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER))
        if not sig or not ts or not delivery:
            return "unsigned request (X-MLflow-Signature, -Timestamp and -Delivery-Id are required)"
        if not ts.isdigit() or abs(now - int(ts)) > self.tolerance:
            return f"timestamp outside the {self.tolerance}s tolerance"
        expected = signature(self.secret, delivery, ts, body)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            return "signature does not match"
        with self._lock:
            for old, at in list(self._seen.items()):
                if now - at <= 2 * self.tolerance:
                    break
                del self._seen[old]
            if delivery in self._seen:
                return "delivery already received (replay)"
            self._seen[delivery] = now
        return None


@dataclass(frozen=True)
class AliasEvent:
    action: str  # created | deleted
    model: str
    alias: str
    version: int | None


def parse(body: bytes) -> AliasEvent | None:
    """The alias event in a delivery, or None for any other event; ValueError when malformed."""
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise ValueError("payload is not a JSON object")
    if (payload.get("entity"), payload.get("action")) not in ALIAS_EVENTS:
        return None
    data = payload.get("data") or {}
    name, alias, version = data.get("name"), data.get("alias"), data.get("version")
    if not isinstance(name, str) or not isinstance(alias, str):
        raise ValueError("alias event without name and alias")
    return AliasEvent(str(payload["action"]), name, alias, int(version) if version not in (None, "") else None)


def report(event: AliasEvent, pins: PinsFile, actual: Mapping[str, int] | None, source: str) -> dict[str, Any]:
    """What the event means for git's state: the model's drift, after the change."""
    managed = event.model in pins.models
    found = drift(pins, {event.model: dict(actual or {})}, event.model) if managed else []
    return {
        "event": {"action": event.action, "model": event.model, "alias": event.alias, "version": event.version},
        "managed": managed,
        "source": source,
        "drift": [d.as_json() for d in found],
    }
