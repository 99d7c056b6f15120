"""The MLflow server is killed in the middle of an apply: the run stops cleanly and a re-run converges."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.devserver import DevServer
from devkit.stores import Profile
from tests.conftest import server_wait
from tests.helpers import rest
from tests.helpers.cli import run, start, wait_for
from tests.helpers.proxy import Fault, Proxy
from tests.helpers.seed import unique, write_pins

ALIAS_WRITE = "POST /api/2.0/mlflow/registered-models/alias"


@pytest.fixture
def own_server(tmp_path: Path, registry_profile: Profile) -> Iterator[DevServer]:
    """A server of this test's own (on the run's registry profile): killing it must not disturb the session server."""
    server = registry_profile.server(tmp_path / "mlflow").start(server_wait())
    yield server
    server.stop(kill=True)


@pytest.mark.parametrize("parallel", ["1", "4"])
def test_kill_mid_apply_then_rerun_converges(own_server: DevServer, tmp_path: Path, parallel: str) -> None:
    names = [unique("killed") for _ in range(30)]
    rest.seed(own_server.url, names, versions=3, aliases={"champion": 1, "challenger": 2, "production": 1})
    original = rest.state(own_server.url, names)
    desired = {n: {"champion": 2, "challenger": 3, "production": 3} for n in names}  # 90 changes
    pins = write_pins(tmp_path / "model_pins.yaml", desired)
    proxy = Proxy(own_server.url).start()
    proxy.faults.append(Fault(status=0, delay=0.03, match=ALIAS_WRITE))  # pace the writes, answer normally
    env = {"MODELPINS_HTTP_RETRIES": "2", "MODELPINS_ACTOR": "first-run"}
    try:
        proc = start("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", parallel, env=env)
        wait_for(lambda: sum(1 for w in proxy.writes() if w[1].endswith("/alias")) >= 20, what="20 alias writes")
        own_server.stop(kill=True)
        out, err = proc.communicate(timeout=120)
    finally:
        proxy.stop()

    assert proc.returncode == 1, err
    stopped = re.search(r"applied (\d+) of 90 changes, then stopped", err)
    assert stopped, err
    applied = int(stopped.group(1))
    assert 20 - int(parallel) <= applied < 90  # at most `parallel` writes in flight when the server died
    assert "failed   killed-" in err and "pending  killed-" in err
    assert "Run apply again" in err
    assert out.count("applied  killed-") == applied
    # the interrupted run could not delete its lock:
    assert "could not release the apply lock" in err

    own_server.start()
    half_way = rest.state(own_server.url, names)
    for name in names:
        for alias, version in half_way[name].items():
            assert version in (original[name][alias], desired[name][alias]), (name, alias, version)
    moved = sum(half_way[n][a] != original[n][a] for n in names for a in desired[n])
    # + one per change in flight: a write that landed while its answer was lost
    assert applied <= moved <= applied + int(parallel)
    holder = rest.lock_holder(own_server.url)
    assert holder is not None
    assert holder["actor"] == "first-run" and holder["pid"] == str(proc.pid)
    assert holder["host"] == socket.gethostname()

    rerun = run("--pins", pins, "--tracking-uri", own_server.url, "apply", "--yes", "--lock-timeout", "10")

    assert rerun.returncode == 0, rerun.stderr
    assert f"breaking stale apply lock held by first-run (host {socket.gethostname()}, pid {proc.pid}" in rerun.stderr
    assert "no longer runs on this host" in rerun.stderr
    assert f"{90 - moved} changes" in rerun.stdout or (moved == 89 and "1 change:" in rerun.stdout)
    assert rest.state(own_server.url, names) == desired
    assert rest.lock_holder(own_server.url) is None
    again = run("--pins", pins, "--tracking-uri", own_server.url, "apply", "--yes")
    assert again.returncode == 0 and "No changes" in again.stdout
