"""MLflow registry webhooks: verify a delivery and turn an alias event into a drift report.

MLflow (3.x OSS) signs each delivery with the webhook's secret: header
`X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">`, with
`X-MLflow-Delivery-Id` and `X-MLflow-Timestamp` (Unix seconds). A delivery is accepted only
with all three headers, each once and in its exact form (`HEADER_FORMS`, ASCII only), a
timestamp within `TOLERANCE` seconds of now, a signature equal (compared in constant time)
to the one computed with the shared secret, and a delivery id not processed before (replays
within the tolerance window are refused; a delivery that failed may be retried).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from modelpins.drift.registry import drift
from modelpins.pins import PinsFile

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_HEADER = "X-MLflow-Delivery-Id"
TOLERANCE = 300  # seconds between MLflow signing a delivery and the receiver checking it
ALIAS_EVENTS = {("model_version_alias", "created"), ("model_version_alias", "deleted")}
IN_PROGRESS = "the same delivery is being processed; retry later"


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


HEADER_FORMS = {  # every X-MLflow header must appear once and match its form in full (ASCII only)
    SIGNATURE_HEADER: re.compile(r"v1,[A-Za-z0-9+/]{43}=", re.ASCII),  # base64 of a SHA-256 HMAC
    TIMESTAMP_HEADER: re.compile(r"[0-9]{1,12}", re.ASCII),
    DELIVERY_HEADER: re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII),
}
VERSION_RE = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)
MAX_SEEN = 100_000  # delivery ids remembered for replay checks, at most


class Headers(Protocol):
    def get_all(self, name: str) -> list[str] | None: ...


def first(headers: Headers, name: str) -> str:
    return (headers.get_all(name) or [""])[0]


def header_problem(headers: Headers) -> str | None:
    """Why the signature headers are missing or malformed (before the body is read), else None."""
    values = {name: headers.get_all(name) or [] for name in HEADER_FORMS}
    if not all(values.values()):
        return "unsigned request (X-MLflow-Signature, -Timestamp and -Delivery-Id are required)"
    for name, form in HEADER_FORMS.items():
        if len(values[name]) > 1:
            return f"{name} is given more than once"
        if not form.fullmatch(values[name][0]):
            return f"{name} is malformed"
    return None


class Verifier:
    """Checks deliveries against one shared secret; remembers processed delivery ids to refuse replays.

    A delivery id is claimed while its delivery is processed and counted as seen only when
    `done`; `release` (after a failure) lets MLflow's retry of the same delivery through.
    """

    def __init__(self, secret: str, tolerance: int = TOLERANCE):
        if len(secret) < 16:
            raise ValueError("the webhook secret must be at least 16 characters")
        self.secret = secret
        self.tolerance = tolerance
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._claimed: set[str] = set()
        self._lock = threading.Lock()

    def check(self, headers: Headers, body: bytes, now: float | None = None) -> str | None:
        """None when the delivery is authentic and fresh (its id is then claimed), else why it is refused."""
        now = time.time() if now is None else now
        bad = header_problem(headers)
        if bad:
            return bad
        sig, ts, delivery = (first(headers, h) for h in (SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER))
        if abs(now - int(ts)) > self.tolerance:
            return f"timestamp outside the {self.tolerance}s tolerance"
        expected = signature(self.secret, delivery, ts, body)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            return "signature does not match"
        with self._lock:
            while self._seen:
                old, at = next(iter(self._seen.items()))
                if now - at <= 2 * self.tolerance and len(self._seen) < MAX_SEEN:
                    break
                del self._seen[old]
            if delivery in self._seen:
                return "delivery already received (replay)"
            if delivery in self._claimed:
                return IN_PROGRESS
            self._claimed.add(delivery)
        return None

    def done(self, delivery: str, now: float | None = None) -> None:
        """The delivery was processed: refuse it from now on."""
        with self._lock:
            self._claimed.discard(delivery)
            self._seen[delivery] = time.time() if now is None else now

    def release(self, delivery: str) -> None:
        """Processing failed: a retry of this delivery is welcome."""
        with self._lock:
            self._claimed.discard(delivery)


@dataclass(frozen=True)
class AliasEvent:
    action: str  # created | deleted
    model: str
    alias: str
    version: int | None


def parse(body: bytes) -> AliasEvent | None:
    """The alias event in a delivery, or None for any other event; ValueError when malformed."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(payload, dict):
        raise ValueError("payload is not a JSON object")
    if (payload.get("entity"), payload.get("action")) not in ALIAS_EVENTS:
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ValueError("alias event without a 'data' object")
    name, alias, version = data.get("name"), data.get("alias"), data.get("version")
    if not (isinstance(name, str) and isinstance(alias, str) and 0 < len(name) <= 256 and 0 < len(alias) <= 256):
        raise ValueError("alias event without name and alias")
    return AliasEvent(str(payload["action"]), name, alias, _version(version))


def _version(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and VERSION_RE.fullmatch(value):
        return int(value)
    raise ValueError(f"version {str(value)[:20]!r} is not plain decimal digits")


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
