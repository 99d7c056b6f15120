"""Racing applies: 2 or 3 `modelpins apply` processes started at once against one registry, each moving the same
models' aliases to a different version. Used by tests/faults/test_apply_race.py (a few trials) and
bench/lock_race.py (200 trials, figures in bench/RESULTS.md).

Each racer talks to the registry through a recording proxy of its own, so the time each one spent writing
aliases is known. A trial passes when no two racers' alias writes overlap in time (the lock held), every
racer exits 0, and the final state is exactly one racer's file: the one that wrote last (never a mix).
With `stale=True` an expired lock of a dead apply is planted first, so the racers also race to break it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import rest
from tests.helpers.cli import start
from tests.helpers.proxy import Proxy
from tests.helpers.seed import unique, write_pins

ALIASES = ("champion", "challenger", "production")


@dataclass
class Trial:
    overlaps: int  # pairs of racers whose alias writes overlapped in time
    mixed: bool  # the final state is not exactly the last writer's file
    failed: list[str]  # racers that did not exit 0 (their stderr)
    broke_stale: int  # racers that reported breaking the planted stale lock
    seconds: float


def plant_stale_lock(url: str) -> None:
    """The lock of an apply on another host whose expiry has passed."""
    tags = {"token": "dead", "actor": "dave", "host": "gone-runner", "pid": "4242", "expires": "1"}
    listed = [{"key": f"modelpins.lock.{k}", "value": v} for k, v in tags.items()]
    rest.call(url, "POST", "registered-models/create", json={"name": "modelpins.lock", "tags": listed})


def seed(url: str, models: int) -> list[str]:
    names = [unique("racing") for _ in range(models)]
    rest.seed(url, names, versions=4, aliases=dict.fromkeys(ALIASES, 1))
    return names


def run_trial(url: str, names: list[str], work: Path, racers: int = 3, parallel: int = 4, stale: bool = False) -> Trial:
    """One race: racer i moves every alias of `names` to version i + 2 (each differs from the others and from 1)."""
    if stale:
        plant_stale_lock(url)
    work.mkdir(parents=True, exist_ok=True)
    wanted = [{n: dict.fromkeys(ALIASES, i + 2) for n in names} for i in range(racers)]
    proxies = [Proxy(url).start() for _ in range(racers)]
    began = time.monotonic()
    try:
        procs = [
            start(
                "--pins",
                write_pins(work / f"racer{i}.yaml", wanted[i]),
                "--tracking-uri",
                proxies[i].url,
                "apply",
                "--yes",
                "--parallel",
                str(parallel),
                "--lock-timeout",
                "300",
                env={"MODELPINS_ACTOR": f"racer{i}"},
            )  # fmt: skip
            for i in range(racers)
        ]
        outcomes = [p.communicate(timeout=600) for p in procs]
    finally:
        for proxy in proxies:
            proxy.stop()
    seconds = time.monotonic() - began
    windows = [_write_window(p) for p in proxies]
    spans = [(i, w) for i, w in enumerate(windows) if w is not None]
    overlaps = sum(1 for i, a in spans for j, b in spans if i < j and a[0] < b[1] and b[0] < a[1])
    last = max((w[1], i) for i, w in spans)[1] if spans else -1
    final = rest.state(url, names)
    return Trial(
        overlaps=overlaps,
        mixed=last < 0 or final != wanted[last],
        failed=[err for p, (_, err) in zip(procs, outcomes, strict=True) if p.returncode != 0],
        broke_stale=sum(1 for _, err in outcomes if "breaking stale apply lock held by dave" in err),
        seconds=seconds,
    )


def _write_window(proxy: Proxy) -> tuple[float, float] | None:
    """From the start of a racer's first alias write to the answer of its last one."""
    times = [(t0, t1) for t0, t1, method, path, *_ in proxy.trace if method == "POST" and path.endswith("/alias")]
    return (min(t for t, _ in times), max(t for _, t in times)) if times else None
