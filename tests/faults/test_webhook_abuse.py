"""The webhook receiver under abuse: every limit gives its answer, nothing hangs, nothing is lost.

Each test runs `modelpins webhook serve` as its own process against the real MLflow server
(through the recording proxy where a registry outage is needed) and talks to it with raw
sockets where an attacker would, so the bytes on the wire are exactly the abusive ones.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.devserver import DevServer
from tests.helpers import rest
from tests.helpers.cli import run
from tests.helpers.proxy import Fault, Proxy
from tests.helpers.receiver import SECRET, alias_event, post, proc_status, raw, serve, signed, stop, wait_for_lines
from tests.helpers.seed import seed_model, unique
from tests.helpers.seed import write_pins as write_pins_file

GET_MODEL = "GET /api/2.0/mlflow/registered-models/get"


def write_pins(tmp_path: Path, model: str, champion: int = 2) -> Path:
    return write_pins_file(tmp_path / "model_pins.yaml", {model: {"champion": champion}})


@pytest.fixture
def receiver(mlflow_server: DevServer, tmp_path: Path) -> Iterator[tuple[object, str, Path]]:
    proc, url = serve(write_pins(tmp_path, "m"), mlflow_server.url, tmp_path / "drift.jsonl", "--request-timeout", "2")
    yield proc, url, tmp_path / "drift.jsonl"
    stop(proc)


def request(length: str | None, extra: str = "", headers: dict[str, str] | None = None) -> bytes:
    """A request head as bytes on the wire: Latin-1 (what HTTP header bytes decode as) where it can be, else UTF-8."""
    head = "POST / HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {length}\r\n" if length is not None else ""
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    text = head + extra + "\r\n"
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


@pytest.mark.parametrize(
    ("length", "extra", "status"),
    [
        (None, "", b"411"),
        (None, "Transfer-Encoding: chunked\r\n", b"411"),
        ("-1", "", b"400"),
        ("abc", "", b"400"),
        ("1e3", "", b"400"),
        ("12345678901", "", b"400"),
        ("10", "Content-Length: 10\r\n", b"400"),
        (str(400 * 1024 * 1024), "", b"413"),
    ],
)
def test_missing_negative_or_malformed_content_length_is_refused_before_any_body(receiver, length, extra, status):
    _, url, report = receiver

    answer = raw(url, request(length, extra))  # headers only: the answer must not wait for a body

    assert answer.split()[1] == status, answer
    assert not report.exists()


def test_non_ascii_digits_in_content_length_are_refused(receiver):
    _, url, _ = receiver
    head = b"POST / HTTP/1.1\r\nHost: r\r\nContent-Length: \xc2\xb2\r\n\r\n"  # '²' passes str.isdigit()

    assert raw(url, head).split()[1] == b"400"


def test_negative_length_with_400_mib_and_no_signature_is_not_read(receiver):
    """The issue's measurement: RSS went from 32 MB to 634 MB. Now the peak stays where it was."""
    proc, url, _ = receiver
    before = proc_status(proc.pid, "VmHWM")
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    for head in (request("-1"), request(None)):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(head)

            def flood(sock: socket.socket = s) -> None:
                block = b"x" * (1024 * 1024)
                try:
                    for _ in range(400):
                        sock.sendall(block)
                except OSError:
                    pass  # the receiver closed the connection, as it should

            sender = threading.Thread(target=flood)
            sender.start()
            status = s.recv(1024).split(b"\r\n", 1)[0]
            sender.join(timeout=30)
        assert status.split()[1] in (b"400", b"411"), status

    grown_kib = proc_status(proc.pid, "VmHWM") - before
    assert grown_kib < 32 * 1024, f"peak RSS grew by {grown_kib // 1024} MiB"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-MLflow-Timestamp": "²"},  # the crash: byte 0xB2 passes isdigit(), then int() raises
        {"X-MLflow-Timestamp": "1700000000²"},
        {"X-MLflow-Timestamp": "١٧٠٠٠٠٠٠٠٠"},  # Arabic-Indic digits, which int() accepts
        {"X-MLflow-Timestamp": " 1700000000"},
        {"X-MLflow-Delivery-Id": "d 1"},
        {"X-MLflow-Signature": "v1,not-base64"},
    ],
)
def test_malformed_signature_headers_get_401_and_the_receiver_keeps_serving(receiver, headers):
    proc, url, report = receiver
    body = alias_event("m")
    good = signed(body)

    answer = raw(url, request(str(len(body)), headers={**good, **headers}) + body)

    assert answer.split()[1] == b"401", answer
    assert post(url, body, good)[0] == 200
    assert proc.poll() is None
    assert len(wait_for_lines(report, 1)) == 1


def test_repeated_signature_headers_are_refused(receiver):
    _, url, _ = receiver
    body = alias_event("m")
    again = f"X-MLflow-Timestamp: {int(time.time())}\r\n"

    assert raw(url, request(str(len(body)), again, signed(body)) + body).split()[1] == b"401"


def test_idle_clients_are_bounded_and_cut_off(mlflow_server, tmp_path):
    """The issue: 300 idle clients held 300 threads. Now at most --max-connections are served at once."""
    report = tmp_path / "drift.jsonl"
    extra = ("--request-timeout", "1", "--max-connections", "8")
    proc, url = serve(write_pins(tmp_path, "m"), mlflow_server.url, report, *extra)
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    base_threads = proc_status(proc.pid, "Threads")
    idle = [socket.create_connection((host, int(port)), timeout=10) for _ in range(300)]
    try:
        time.sleep(0.5)
        threads = proc_status(proc.pid, "Threads")
        answers = [s.recv(1024)[:12] for s in idle]  # each is turned away, or cut off after 1 s
        body = alias_event("m")
        status, _ = post(url, body, signed(body), timeout=5)
    finally:
        for s in idle:
            s.close()
        stop(proc)

    assert threads <= base_threads + 2 * 8  # a handler and a deadline timer per connection
    assert set(answers) <= {b"HTTP/1.0 503", b""}
    assert answers.count(b"HTTP/1.0 503") >= 300 - 3 * 8
    assert status == 200


def test_slow_client_does_not_block_a_valid_delivery_and_is_cut_off(receiver):
    _, url, report = receiver
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    outcome: dict[str, Any] = {}

    def trickle() -> None:
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=10) as s:
            try:
                for byte in request("100"):
                    s.sendall(bytes([byte]))
                    time.sleep(0.2)
                outcome["answer"] = s.recv(1024)
            except OSError as exc:
                outcome["answer"] = exc
        outcome["seconds"] = time.monotonic() - started

    slow = threading.Thread(target=trickle)
    slow.start()
    time.sleep(0.5)
    body = alias_event("m")
    started = time.monotonic()
    status, answer = post(url, body, signed(body), timeout=10)
    took = time.monotonic() - started
    slow.join(timeout=60)

    assert status == 200 and answer["event"]["model"] == "m"
    assert took < 2
    assert not isinstance(outcome["answer"], bytes) or not outcome["answer"].startswith(b"HTTP/1.0 200")
    assert outcome["seconds"] < 2 + 1 + 1  # --request-timeout 2, then the slow client notices
    assert len(wait_for_lines(report, 1)) == 1


def test_missing_on_drift_program_and_secret_are_startup_errors(mlflow_server, tmp_path):
    pins = write_pins(tmp_path, "m")
    base = ("--pins", pins, "--tracking-uri", mlflow_server.url, "webhook", "serve", "--port", "0")
    secret = {"MODELPINS_WEBHOOK_SECRET": "x" * 32}

    missing = run(*base, "--on-drift", "no-such-notifier --channel ml", env=secret, timeout=30)
    relative = run(*base, "--on-drift", "./notify.sh", env=secret, timeout=30)
    no_secret = run(*base, env={"MODELPINS_WEBHOOK_SECRET": ""}, timeout=30)

    assert missing.returncode == 2
    assert "--on-drift: program 'no-such-notifier' is not on PATH" in missing.stderr
    assert relative.returncode == 2 and "program './notify.sh' is not an executable file" in relative.stderr
    assert no_secret.returncode == 2 and "MODELPINS_WEBHOOK_SECRET" in no_secret.stderr
    assert "listening" not in missing.stdout + relative.stdout + no_secret.stdout


def test_slow_on_drift_hook_runs_off_the_request_path_and_is_killed(mlflow_server, tmp_path):
    """The issue: a slow hook held the report lock for 60 s, blocking every other delivery."""
    model = unique("hooked")
    rest.seed(mlflow_server.url, [model], versions=3, aliases={"champion": 1})
    ran = tmp_path / "hook-input.jsonl"
    script = f"import sys, time; open({str(ran)!r}, 'a').write(sys.stdin.read()); time.sleep(60)"
    extra = ("--on-drift", f'{sys.executable} -c "{script}"', "--on-drift-timeout", "1")
    proc, url = serve(write_pins(tmp_path, model), mlflow_server.url, tmp_path / "drift.jsonl", *extra)
    try:
        took = []
        for _ in range(2):
            body = alias_event(model, version="1")
            started = time.monotonic()
            status, answer = post(url, body, signed(body), timeout=30)
            took.append(time.monotonic() - started)
            assert status == 200 and answer["drift"] == [
                {"model": model, "alias": "champion", "expected": 2, "actual": 1}
            ]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not ran.exists() or ran.read_text().count("\n") < 2):
            time.sleep(0.1)
    finally:
        log = stop(proc)

    assert max(took) < 2, took
    assert ran.read_text().count('"drift": [{') == 2  # both hooks ran, one after the other
    assert log.count("on-drift: killed after 1s") >= 1


def test_registry_outage_answers_503_and_the_same_delivery_is_processed_on_retry(mlflow_server, proxy, tmp_path):
    model = unique("outage")
    rest.seed(mlflow_server.url, [model], versions=3, aliases={"champion": 1})
    report = tmp_path / "drift.jsonl"
    proc, url = serve(write_pins(tmp_path, model), proxy.url, report, env={"MODELPINS_HTTP_RETRIES": "0"})
    proxy.faults.append(Fault(status=503, count=1, match=GET_MODEL))
    body = alias_event(model, version="1")
    headers = signed(body)
    try:
        first, answer = post(url, body, headers)
        second, result = post(url, body, headers)  # MLflow's retry: the same delivery id
        third, _ = post(url, body, headers)  # a replay once it was processed
    finally:
        stop(proc)

    assert first == 503 and "registry unavailable" in answer["error"]
    assert second == 200 and result["drift"] == [{"model": model, "alias": "champion", "expected": 2, "actual": 1}]
    assert third == 401
    assert len(wait_for_lines(report, 1)) == 1


def test_mlflow_retries_a_delivery_that_met_a_registry_outage_and_the_drift_is_reported(hook_server, tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=hook_server.url)
    model = unique("retried")
    seed_model(client, model, 3, {"champion": 2})
    report = tmp_path / "drift.jsonl"
    registry = Proxy(hook_server.url).start()
    proc, url = serve(write_pins(tmp_path, model), registry.url, report, env={"MODELPINS_HTTP_RETRIES": "0"})
    hook = client.create_webhook(unique("drift"), url, events=["model_version_alias.created"], secret=SECRET)
    try:
        time.sleep(1.5)  # the server caches the webhook list for MLFLOW_WEBHOOK_CACHE_TTL
        registry.faults.append(Fault(status=503, count=1, match=GET_MODEL))

        client.set_registered_model_alias(model, "champion", "1")  # by hand, while the registry read fails

        [line] = wait_for_lines(report, 1, timeout=60)
    finally:
        client.delete_webhook(hook.webhook_id)
        stop(proc)
        registry.stop()

    assert line["drift"] == [{"model": model, "alias": "champion", "expected": 2, "actual": 1}]
    assert sum(1 for m, p in registry.log if f"{m} {p}" == GET_MODEL) == 2  # refused once, read on the retry


@pytest.mark.parametrize("name", ["not-in-the-pins-file", "team/model", "a:b"])
def test_an_event_for_a_model_the_pins_file_does_not_manage_is_acknowledged_without_a_registry_read(
    proxy, tmp_path, name
):
    """'team/model' and 'a:b' are names MLflow itself rejects (HTTP 400): they were answered 500, which MLflow
    retries (mlflow/webhooks/delivery.py retries 429, 500, 502, 503 and 504 only)."""
    report = tmp_path / "drift.jsonl"
    proc, url = serve(write_pins(tmp_path, unique("managed")), proxy.url, report)
    body = alias_event(name)
    try:
        status, answer = post(url, body, signed(body))
    finally:
        stop(proc)

    assert status == 200 and answer["managed"] is False and "not managed" in answer["ignored"]
    assert proxy.log == []  # nothing read for a name the file does not own
    assert not report.exists() or report.read_text() == ""


def test_a_managed_model_the_registry_refuses_to_read_gets_a_4xx_mlflow_does_not_retry(proxy, tmp_path):
    model = unique("refused")
    report = tmp_path / "drift.jsonl"
    proc, url = serve(write_pins(tmp_path, model), proxy.url, report, env={"MODELPINS_HTTP_RETRIES": "0"})
    proxy.faults.append(Fault(status=400, match=GET_MODEL))
    body = alias_event(model)
    try:
        status, answer = post(url, body, signed(body))
    finally:
        log = stop(proc)

    assert status == 422 and "refused" in answer["error"]  # was 500: retried by MLflow to no end
    assert "HTTP 400" in log


def test_on_drift_hook_gets_no_credentials_unless_named(mlflow_server, tmp_path):
    """The hook is a separate program: the webhook's secret, the registry's token and GITHUB_TOKEN stay with the
    receiver; a variable the hook needs is passed by name (--on-drift-env), and a name that is not set is refused."""
    model = unique("envhook")
    rest.seed(mlflow_server.url, [model], versions=3, aliases={"champion": 1})
    seen = tmp_path / "hook-env.txt"
    script = f"import json, os, sys; sys.stdin.read(); json.dump(dict(os.environ), open({str(seen)!r}, 'w'))"
    creds = {"MLFLOW_TRACKING_TOKEN": "tok-0f9e8d7c6b5a", "GITHUB_TOKEN": "ghs_hooktoken123", "NOTIFY_URL": "https://n"}
    extra = ("--on-drift", f'{sys.executable} -c "{script}"', "--on-drift-env", "GITHUB_TOKEN")
    proc, url = serve(write_pins(tmp_path, model), mlflow_server.url, tmp_path / "drift.jsonl", *extra, env=creds)
    try:
        body = alias_event(model, version="1")
        assert post(url, body, signed(body), timeout=30)[0] == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not seen.exists():
            time.sleep(0.1)
    finally:
        stop(proc)
    env = json.loads(seen.read_text())
    unset = run("--pins", write_pins(tmp_path, model), "--tracking-uri", mlflow_server.url, "webhook", "serve",
                "--port", "0", "--on-drift", "true", "--on-drift-env", "NO_SUCH_VAR_X",
                env={"MODELPINS_WEBHOOK_SECRET": SECRET}, timeout=30)  # fmt: skip

    assert "MODELPINS_WEBHOOK_SECRET" not in env and SECRET not in env.values()
    assert "MLFLOW_TRACKING_TOKEN" not in env and "tok-0f9e8d7c6b5a" not in env.values()
    assert env["GITHUB_TOKEN"] == "ghs_hooktoken123"  # named: passed
    assert env["NOTIFY_URL"] == "https://n"  # not a credential: inherited
    assert unset.returncode == 2
    assert "--on-drift-env NO_SUCH_VAR_X: not set here; set it or drop the option" in unset.stderr
