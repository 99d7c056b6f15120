"""An apply killed with SIGKILL in the middle of its writes (a runner that lost its machine, the OOM killer):
nothing releases its lock and some aliases have moved. The re-run breaks the dead process's lock and converges.

Runs on the session registry, so on either profile (MODELPINS_TEST_BACKEND=postgres: 4 workers on PostgreSQL).
"""

from __future__ import annotations

import os
import signal
import socket

import pytest

from tests.helpers import rest
from tests.helpers.cli import run, start, wait_for
from tests.helpers.proxy import Fault, Proxy
from tests.helpers.seed import unique, write_pins

ALIAS_WRITE = "POST /api/2.0/mlflow/registered-models/alias"


@pytest.mark.parametrize("parallel", ["1", "4"])
def test_apply_killed_mid_run_then_rerun_converges(mlflow_server, tmp_path, parallel: str) -> None:
    url = mlflow_server.url
    names = [unique("sigkill") for _ in range(10)]
    rest.seed(url, names, versions=3, aliases={"champion": 1, "challenger": 2, "production": 1})
    original = rest.state(url, names)
    desired = {n: {"champion": 2, "challenger": 3, "production": 3} for n in names}  # 30 changes
    pins = write_pins(tmp_path / "model_pins.yaml", desired)
    proxy = Proxy(url).start()
    proxy.faults.append(Fault(status=0, delay=0.05, match=ALIAS_WRITE))  # pace the writes, answer normally
    try:
        proc = start("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", parallel,
                     env={"MODELPINS_ACTOR": "killed-run"})  # fmt: skip
        wait_for(lambda: sum(1 for w in proxy.writes() if w[1].endswith("/alias")) >= 8, what="8 alias writes")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        proxy.stop()

    assert proc.returncode == -signal.SIGKILL
    half_way = rest.state(url, names)
    moved = sum(half_way[n][a] != original[n][a] for n in names for a in desired[n])
    assert 0 < moved < 30
    for name in names:
        for alias, version in half_way[name].items():
            assert version in (original[name][alias], desired[name][alias]), (name, alias, version)
    holder = rest.lock_holder(url)
    assert holder is not None and holder["actor"] == "killed-run" and holder["pid"] == str(proc.pid)

    rerun = run("--pins", pins, "--tracking-uri", url, "apply", "--yes", "--lock-timeout", "10")

    assert rerun.returncode == 0, rerun.stderr
    assert f"breaking stale apply lock held by killed-run (host {socket.gethostname()}, pid {proc.pid}" in rerun.stderr
    assert "no longer runs on this host" in rerun.stderr
    assert rest.state(url, names) == desired
    assert rest.lock_holder(url) is None
    again = run("--pins", pins, "--tracking-uri", url, "apply", "--yes")
    assert again.returncode == 0 and "No changes" in again.stdout
