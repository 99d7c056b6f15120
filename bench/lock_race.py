"""Racing applies against one registry, many trials: the apply lock's mutual exclusion on a given backend.

    .venv/bin/python bench/lock_race.py [--backend postgres] [--trials 200] [--racers 3] [--models 2]
                                        [--parallel 4] [--workers 4]

Each trial (tests.helpers.race.run_trial) starts `--racers` `modelpins apply` processes at once, each moving every
alias of `--models` fresh models (3 aliases each) to a version of its own, with `--parallel` changes in flight,
each through a recording proxy of its own. Every other trial starts with an expired lock of a dead apply planted,
so the racers also race to break it (the guarded compare-and-delete). Counted: trials where two racers' alias
writes overlapped in time, trials whose final state is not exactly the last writer's file, racers that failed,
and in the stale trials how many racers tried to break the planted lock. The server is started once
(devkit.stores.Profile: `postgres` is 4 workers on PostgreSQL with artefacts in moto's S3 server).
tests/faults/test_apply_race.py runs 4 such trials in the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time

from common import ROOT, machine

from devkit.stores import PROFILES, Profile
from tests.helpers import rest
from tests.helpers.race import run_trial, seed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=PROFILES, default="postgres")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--racers", type=int, default=3)
    ap.add_argument("--models", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    work = ROOT / ".bench" / "lock_race"
    shutil.rmtree(work, ignore_errors=True)
    profile = Profile(args.backend, workers=args.workers).start()
    os.environ.update(profile.env)
    server = profile.server(work / "mlflow", workers=args.workers).start(timeout=900)
    print(f"machine: {machine()}; backend {args.backend}, mlflow server --workers {args.workers}", flush=True)
    print(f"{args.trials} trials of {args.racers} racing applies, {args.models * 3} changes each, "
          f"--parallel {args.parallel}; load {os.getloadavg()}", flush=True)  # fmt: skip
    overlaps = mixed = failed = stale_trials = 0
    tried_break: list[int] = []
    seconds: list[float] = []
    began = time.monotonic()
    try:
        for n in range(args.trials):
            names = seed(server.url, args.models)
            t = run_trial(server.url, names, work / f"t{n}", args.racers, args.parallel, stale=n % 2 == 1)
            overlaps += t.overlaps > 0
            mixed += t.mixed
            failed += len(t.failed)
            seconds.append(t.seconds)
            if n % 2 == 1:
                stale_trials += 1
                tried_break.append(t.broke_stale)
            if t.failed:
                print(f"trial {n}: {t.failed[0][-500:]}", flush=True)
            if n % 10 == 9 or t.overlaps or t.mixed:
                print(f"after {n + 1} trials: {overlaps} with overlapping writes, {mixed} mixed final states, "
                      f"{failed} failed racers; racers that tried to break each planted stale lock: {tried_break}; "
                      f"{time.monotonic() - began:.0f}s", flush=True)  # fmt: skip
            shutil.rmtree(work / f"t{n}", ignore_errors=True)
        assert rest.lock_holder(server.url) is None, "a lock was left behind"
    finally:
        server.stop()
        profile.stop()
    print("\n| backend | trials | racers | changes each | trials with overlapping writes | mixed final states |"
          " failed racers | stale-lock trials (racers that tried to break it: min/median/max) |"
          " median s per trial |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    print(f"| {args.backend}, {args.workers} workers | {len(seconds)} | {args.racers} | {args.models * 3} |"
          f" {overlaps} |"
          f" {mixed} | {failed} | {stale_trials} ({min(tried_break)}/{statistics.median(tried_break):g}/"
          f"{max(tried_break)}) | {statistics.median(seconds):.1f} |")  # fmt: skip
    return 1 if overlaps or mixed or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
