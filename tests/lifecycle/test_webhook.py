"""The drift webhook receiver with a real MLflow server delivering signed alias events over loopback http."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.devserver import DevServer
from modelpins.drift import webhook
from tests.helpers.receiver import SECRET, serve, stop, wait_for_lines
from tests.helpers.receiver import post as receiver_post
from tests.helpers.seed import seed_model, unique
from tests.lifecycle.conftest import pins_text


@pytest.fixture
def receiver(hook_server: DevServer, tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    pins, report = tmp_path / "model_pins.yaml", tmp_path / "drift.jsonl"
    proc, url = serve(pins, hook_server.url, report)
    yield url, pins, report
    stop(proc)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return receiver_post(url, body, headers)[0]


def test_manual_alias_change_in_mlflow_is_reported_as_drift(hook_server, receiver):
    from mlflow import MlflowClient

    url, pins, report = receiver
    client = MlflowClient(tracking_uri=hook_server.url)
    model = unique("hooked")
    seed_model(client, model, 3, {"champion": 2, "challenger": 3})
    pins.write_text(pins_text(model, 2))
    client.create_webhook(
        unique("drift"), url, events=["model_version_alias.created", "model_version_alias.deleted"], secret=SECRET
    )
    time.sleep(1.5)  # the server caches the webhook list for MLFLOW_WEBHOOK_CACHE_TTL

    client.set_registered_model_alias(model, "champion", "1")  # by hand, as in the UI

    first = wait_for_lines(report, 1)[0]
    assert first["event"] == {"action": "created", "model": model, "alias": "champion", "version": 1}
    assert first["drift"] == [{"model": model, "alias": "champion", "expected": 2, "actual": 1}]

    client.set_registered_model_alias(model, "champion", "2")  # put back: the report says so
    assert wait_for_lines(report, 2)[1]["drift"] == []


def test_unsigned_forged_stale_and_replayed_deliveries_are_refused(receiver):
    url, pins, report = receiver
    pins.write_text(pins_text("m", 2))
    body = json.dumps(
        {
            "entity": "model_version_alias",
            "action": "created",
            "data": {"name": "m", "alias": "champion", "version": "1"},
        }
    ).encode()
    now = str(int(time.time()))

    def signed(secret: str, ts: str, delivery: str) -> dict[str, str]:
        return {
            webhook.DELIVERY_HEADER: delivery,
            webhook.TIMESTAMP_HEADER: ts,
            webhook.SIGNATURE_HEADER: webhook.signature(secret, delivery, ts, body),
        }

    assert post(url, body, {}) == 401
    assert post(url, body, signed("wrong-secret-wrong-secret", now, "d1")) == 401
    assert post(url, body, signed(SECRET, str(int(time.time()) - 3600), "d2")) == 401
    tampered = signed(SECRET, now, "d3")
    assert post(url, body.replace(b'"1"', b'"3"'), tampered) == 401
    assert not report.exists()

    good = signed(SECRET, now, "d4")
    assert post(url, body, good) == 200
    assert post(url, body, good) == 401  # the same delivery again
    assert len(wait_for_lines(report, 1)) == 1
