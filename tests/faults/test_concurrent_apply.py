"""Two applies at once against one registry: the second waits for the first (or refuses); never interleaved."""

from __future__ import annotations

import time

import pytest

from tests.helpers import rest
from tests.helpers.cli import run, start, wait_for
from tests.helpers.proxy import Fault, Proxy
from tests.helpers.seed import unique, write_pins

ALIAS_WRITE = "POST /api/2.0/mlflow/registered-models/alias"


# A's 6 changes take 6 x 2 s one at a time, and 2 rounds of 6 s with 4 in flight: about 12 s either way,
# longer than B needs to start and plan on two busy cores.
DELAY = {"1": 2.0, "4": 6.0}


def _slow_first_apply(proxy, tmp_path, names, parallel):
    """Start apply A (actor alice) moving every alias to 2, with `parallel` changes in flight, each alias write
    held by the proxy so that A holds the lock for about 12 s."""
    pins_a = write_pins(tmp_path / "a.yaml", {n: {"champion": 2, "challenger": 2} for n in names})
    proxy.faults.append(Fault(status=0, delay=DELAY[parallel], match=ALIAS_WRITE))
    argv = ("--pins", pins_a, "--tracking-uri", proxy.url, "apply", "--yes", "--parallel", parallel)
    proc = start(*argv, env={"MODELPINS_ACTOR": "alice"})
    wait_for(lambda: any(p.endswith("/registered-models/alias") for _, p in proxy.log), what="A's first alias write")
    return proc


@pytest.mark.parametrize("parallel", ["1", "4"])
def test_second_apply_waits_then_plans_from_the_first_ones_result(mlflow_server, proxy, tmp_path, parallel):
    names = [unique("race") for _ in range(3)]
    rest.seed(mlflow_server.url, names, versions=3, aliases={"champion": 1, "challenger": 1})
    # A holds the lock for about 12 s: B starts and makes its first plan while A is still writing
    a = _slow_first_apply(proxy, tmp_path, names, parallel)
    pins_b = write_pins(tmp_path / "b.yaml", {n: {"champion": 3, "challenger": 2} for n in names})
    proxy_b = Proxy(mlflow_server.url).start()
    try:
        b = run("--pins", pins_b, "--tracking-uri", proxy_b.url, "apply", "--yes", "--lock-timeout", "60")
        a_out, a_err = a.communicate(timeout=60)
    finally:
        proxy_b.stop()

    assert a.returncode == 0, a_err
    assert b.returncode == 0, b.stderr
    assert "waiting up to 60s for the apply lock held by alice" in b.stderr
    # B planned again under the lock: it starts from A's result (champion 2), and leaves challenger alone.
    replanned = b.stdout.split("The registry changed while waiting for the apply lock; the plan now is:")[1]
    for name in names:
        assert f"{name}  champion  2     3   move" in replanned
        assert f"{name}  challenger" not in replanned
    assert "3 changes: 3 move" in replanned
    assert rest.state(mlflow_server.url, names) == {n: {"champion": 3, "challenger": 2} for n in names}
    assert rest.lock_holder(mlflow_server.url) is None


@pytest.mark.parametrize("parallel", ["1", "4"])
def test_second_apply_refuses_after_lock_timeout_naming_holder_and_writes_nothing(
    mlflow_server, proxy, tmp_path, parallel
):
    names = [unique("refused") for _ in range(3)]
    rest.seed(mlflow_server.url, names, versions=3, aliases={"champion": 1, "challenger": 1})
    # A holds the lock for about 12 s: far longer than B needs to start, plan and wait 1 s
    a = _slow_first_apply(proxy, tmp_path, names, parallel)
    pins_b = write_pins(tmp_path / "b.yaml", {n: {"champion": 3, "challenger": 3} for n in names})
    proxy_b = Proxy(mlflow_server.url).start()
    try:
        b = run("--pins", pins_b, "--tracking-uri", proxy_b.url, "apply", "--yes", "--lock-timeout", "1")
        a_out, a_err = a.communicate(timeout=60)
    finally:
        proxy_b.stop()

    assert b.returncode == 1
    assert "another apply holds the registry lock: alice (host " in b.stderr
    assert "Waited 1s" in b.stderr
    b_writes = [p for _, p in proxy_b.writes() if not p.endswith("/registered-models/create")]
    assert b_writes == []  # B only ever tried to take the lock
    assert a.returncode == 0, a_err
    assert rest.state(mlflow_server.url, names) == {n: {"champion": 2, "challenger": 2} for n in names}


def _plant_lock(url: str, expires: float) -> None:
    """A lock as another machine's apply would leave it."""
    tags = {"token": "elsewhere", "actor": "carol", "host": "ci-runner-elsewhere", "pid": "4242", "expires": expires}
    listed = [{"key": f"modelpins.lock.{k}", "value": str(v)} for k, v in tags.items()]
    rest.call(url, "POST", "registered-models/create", json={"name": "modelpins.lock", "tags": listed})


def test_lock_of_another_host_is_respected_until_expiry_then_broken(mlflow_server, proxy, tmp_path):
    name = unique("expiry")
    rest.seed(mlflow_server.url, [name], versions=2, aliases={"champion": 1})
    pins = write_pins(tmp_path / "model_pins.yaml", {name: {"champion": 2}})
    _plant_lock(mlflow_server.url, expires=time.time() + 3600)
    try:
        # plan and validate do not see the lock model; apply refuses while the lock is live
        plan = run("--pins", pins, "--tracking-uri", proxy.url, "plan")
        assert plan.returncode == 0 and "modelpins.lock" not in plan.stdout and "1 change" in plan.stdout
        assert run("--pins", pins, "--tracking-uri", proxy.url, "validate").returncode == 0
        refused = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--lock-timeout", "0")
        assert refused.returncode == 1
        assert "another apply holds the registry lock: carol (host ci-runner-elsewhere, pid 4242" in refused.stderr
        assert rest.state(mlflow_server.url, [name]) == {name: {"champion": 1}}
    finally:
        rest.call(mlflow_server.url, "DELETE", "registered-models/delete", json={"name": "modelpins.lock"})

    _plant_lock(mlflow_server.url, expires=time.time() - 1)
    broken = run("--pins", pins, "--tracking-uri", proxy.url, "apply", "--yes", "--lock-timeout", "0")
    assert broken.returncode == 0, broken.stderr
    assert "breaking stale apply lock held by carol" in broken.stderr and "its expiry has passed" in broken.stderr
    assert rest.state(mlflow_server.url, [name]) == {name: {"champion": 2}}
    assert rest.lock_holder(mlflow_server.url) is None
