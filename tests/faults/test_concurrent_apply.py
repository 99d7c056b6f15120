"""Two applies at once against one registry: the second waits for the first (or refuses); never interleaved."""

from __future__ import annotations

from tests.helpers import rest
from tests.helpers.cli import run, start, wait_for
from tests.helpers.proxy import Fault, Proxy
from tests.helpers.seed import unique, write_pins

ALIAS_WRITE = "POST /api/2.0/mlflow/registered-models/alias"


def _slow_first_apply(proxy, tmp_path, names, delay):  # type: ignore[no-untyped-def]
    """Start apply A (actor alice) moving every alias to 2, each alias write held `delay` seconds by the proxy."""
    pins_a = write_pins(tmp_path / "a.yaml", {n: {"champion": 2, "challenger": 2} for n in names})
    proxy.faults.append(Fault(status=0, delay=delay, match=ALIAS_WRITE))
    proc = start("--pins", pins_a, "--tracking-uri", proxy.url, "apply", "--yes", env={"MODELPINS_ACTOR": "alice"})
    wait_for(lambda: any(p.endswith("/registered-models/alias") for _, p in proxy.log), what="A's first alias write")
    return proc


def test_second_apply_waits_then_plans_from_the_first_ones_result(mlflow_server, proxy, tmp_path):  # type: ignore[no-untyped-def]
    names = [unique("race") for _ in range(3)]
    rest.seed(mlflow_server.url, names, versions=3, aliases={"champion": 1, "challenger": 1})
    a = _slow_first_apply(proxy, tmp_path, names, delay=0.4)
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


def test_second_apply_refuses_after_lock_timeout_naming_holder_and_writes_nothing(mlflow_server, proxy, tmp_path):  # type: ignore[no-untyped-def]
    names = [unique("refused") for _ in range(3)]
    rest.seed(mlflow_server.url, names, versions=3, aliases={"champion": 1, "challenger": 1})
    # A holds the lock for 6 x 1 s: far longer than B needs to start, plan and wait 1 s
    a = _slow_first_apply(proxy, tmp_path, names, delay=1.0)
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
