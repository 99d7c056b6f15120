"""A server that answers 5xx or stalls: bounded retries, then a clear error; nothing half-recorded."""

from __future__ import annotations

from pathlib import Path

from devkit.devserver import DevServer
from tests.helpers import rest
from tests.helpers.cli import run
from tests.helpers.proxy import Fault, Proxy
from tests.helpers.seed import unique, write_pins

ALIAS_WRITE = "POST /api/2.0/mlflow/registered-models/alias"


def _setup(server: DevServer, tmp_path: Path, count: int = 2) -> tuple[list[str], dict, dict, Path]:
    names = [unique("flaky") for _ in range(count)]
    rest.seed(server.url, names, versions=3, aliases={"champion": 1, "challenger": 2})
    original = rest.state(server.url, names)
    desired = {n: {"champion": 2, "challenger": 3} for n in names}
    return names, original, desired, write_pins(tmp_path / "model_pins.yaml", desired)


def _alias_writes(proxy: Proxy) -> int:
    return sum(1 for m, p in proxy.log if m == "POST" and p.endswith("/registered-models/alias"))


def test_transient_5xx_on_writes_is_retried_and_apply_succeeds(mlflow_server, proxy, tmp_path):
    names, _, desired, pins = _setup(mlflow_server, tmp_path)
    proxy.faults.append(Fault(status=502, count=2, match=ALIAS_WRITE))

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", env={"MODELPINS_HTTP_RETRIES": "3"})

    assert result.returncode == 0, result.stderr
    assert rest.state(mlflow_server.url, names) == desired
    assert _alias_writes(proxy) == 4 + 2  # four aliases, two of them answered 502 once


def _apply_with_retries(proxy, pins, parallel):
    return run(
        "--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", str(parallel),
        env={"MODELPINS_HTTP_RETRIES": "2"},
    )  # fmt: skip


def _untouched_then_converges(mlflow_server, proxy, pins, names, original, desired):
    """Nothing moved and the lock is free; once the fault is gone, a plain re-run reaches the plan."""
    assert rest.state(mlflow_server.url, names) == original
    assert rest.lock_holder(mlflow_server.url) is None

    proxy.faults.clear()
    again = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert again.returncode == 0, again.stderr
    assert rest.state(mlflow_server.url, names) == desired


def test_persistent_5xx_stops_with_applied_and_pending_and_releases_lock(mlflow_server, proxy, tmp_path):
    names, original, desired, pins = _setup(mlflow_server, tmp_path)
    proxy.faults.append(Fault(status=503, match=ALIAS_WRITE))

    # one change at a time: which change meets the fault first is then known (the parallel case is below)
    result = _apply_with_retries(proxy, pins, parallel=1)

    assert result.returncode == 1
    assert "applied 0 of 4 changes, then stopped" in result.stderr
    assert f"failed   {names[0]}@champion" in result.stderr
    assert "failed 3 times on POST registered-models/alias: HTTP 503" in result.stderr
    assert f"pending  {names[1]}@challenger: 2 -> 3" in result.stderr
    assert _alias_writes(proxy) == 3  # bounded: 1 try + 2 retries, then stop
    _untouched_then_converges(mlflow_server, proxy, pins, names, original, desired)


def test_persistent_5xx_in_flight_applies_nothing_and_accounts_for_every_change(mlflow_server, proxy, tmp_path):
    names, original, desired, pins = _setup(mlflow_server, tmp_path)
    proxy.faults.append(Fault(status=503, match=ALIAS_WRITE))

    result = _apply_with_retries(proxy, pins, parallel=4)

    assert result.returncode == 1
    assert "applied 0 of 4 changes, then stopped" in result.stderr
    failed = result.stderr.count("\nfailed   ")
    pending = result.stderr.count("\npending  ")
    assert failed >= 1 and failed + pending == 4, result.stderr  # every change is accounted for, once
    # at most the four changes in flight when the first failed, each 1 try + 2 retries; nothing starts after
    assert 3 <= _alias_writes(proxy) <= 3 * 4
    _untouched_then_converges(mlflow_server, proxy, pins, names, original, desired)


def test_reads_timing_out_give_a_clear_error_and_no_write(mlflow_server, proxy, tmp_path):
    names, original, _, pins = _setup(mlflow_server, tmp_path, count=1)
    proxy.faults.append(Fault(status=0, delay=1.5, match="GET /api/2.0/mlflow/registered-models/search"))
    env = {"MODELPINS_HTTP_RETRIES": "1", "MODELPINS_HTTP_TIMEOUT": "0.4"}

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", env=env)

    assert result.returncode == 1
    assert "failed 2 times on GET registered-models/search: no answer within 0.4s" in result.stderr
    assert proxy.writes() == []
    assert rest.state(mlflow_server.url, names) == original


def test_writes_timing_out_leave_only_planned_versions_and_rerun_converges(mlflow_server, proxy, tmp_path):
    names, original, desired, pins = _setup(mlflow_server, tmp_path, count=1)
    # the proxy forwards each alias write only after the client has given up on it
    proxy.faults.append(Fault(status=0, delay=1.0, match=ALIAS_WRITE))
    env = {"MODELPINS_HTTP_RETRIES": "1", "MODELPINS_HTTP_TIMEOUT": "0.3"}

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", env=env)

    assert result.returncode == 1
    assert "no answer within 0.3s" in result.stderr and "then stopped" in result.stderr
    proxy.faults.clear()
    name = names[0]
    for alias, version in rest.state(mlflow_server.url, names)[name].items():
        assert version in (original[name][alias], desired[name][alias])
    again = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes")
    assert again.returncode == 0, again.stderr
    assert rest.state(mlflow_server.url, names) == desired


def test_one_stalled_write_is_retried_and_apply_succeeds(mlflow_server, proxy, tmp_path):
    names, _, desired, pins = _setup(mlflow_server, tmp_path, count=1)
    proxy.faults.append(Fault(status=504, count=1, delay=0.5, match=ALIAS_WRITE))
    env = {"MODELPINS_HTTP_RETRIES": "2", "MODELPINS_HTTP_TIMEOUT": "5"}

    result = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", env=env)

    assert result.returncode == 0, result.stderr
    assert rest.state(mlflow_server.url, names) == desired
