"""What one registry request costs on a backend, and where it goes: read vs write, connection reuse, durability.

    .venv/bin/python bench/request_cost.py [--backend postgres] [--requests 200] [--workers 4]

One server (devkit.stores.Profile), one model with two versions, then `--requests` sequential requests each of:
  - GET registered-models/get, and POST registered-models/alias, over one kept-alive connection (a plain requests
    session), over modelpins' own transport (kept alive, TCP_QUICKACK), and over a new connection per request;
  - on PostgreSQL, the database's transactions per request (pg_stat_database.xact_commit before and after), and the
    alias writes again with synchronous_commit=off and then fsync=off too (ALTER SYSTEM, reloaded: no restart),
    i.e. without waiting for the WAL flush at each commit.
Prints the median and p90 milliseconds per request. Needs no proxy: the client talks to the server directly.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time

import requests
from common import ROOT, machine

from devkit.stores import PROFILES, Profile
from modelpins.mlflow_http import transport

API = "/api/2.0/mlflow/"


def timed(n: int, send) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        t = time.perf_counter()
        resp = send(i)
        out.append((time.perf_counter() - t) * 1000)
        resp.raise_for_status()
    return out


def show(what: str, ms: list[float], extra: str = "") -> None:
    p90 = sorted(ms)[int(len(ms) * 0.9)]
    print(f"| {what} | {len(ms)} | {statistics.median(ms):.1f} | {p90:.1f} | {extra} |", flush=True)


def pg_commits(profile: Profile) -> int:
    import psycopg

    assert profile.postgres is not None
    with psycopg.connect(f"host=127.0.0.1 port={profile.postgres.port} user=mlflow dbname=postgres") as conn:
        row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = 'mlflow1'").fetchone()
    return int(row[0]) if row else 0


def pg_set(profile: Profile, **settings: str) -> None:
    import psycopg

    assert profile.postgres is not None
    conninfo = f"host=127.0.0.1 port={profile.postgres.port} user=mlflow dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for name, value in settings.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=PROFILES, default="postgres")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    work = ROOT / ".bench" / "request_cost"
    shutil.rmtree(work, ignore_errors=True)
    profile = Profile(args.backend, workers=args.workers).start()
    os.environ.update(profile.env)
    server = profile.server(work / "mlflow", workers=args.workers).start(timeout=900)
    base = server.url + API
    n = args.requests
    try:
        s = requests.Session()
        s.post(base + "registered-models/create", json={"name": "cost"}).raise_for_status()
        for v in (1, 2):
            s.post(base + "model-versions/create", json={"name": "cost", "source": f"s3://b/{v}"}).raise_for_status()
        alias = lambda i: {"name": "cost", "alias": "champion", "version": str(i % 2 + 1)}  # noqa: E731
        print(f"machine: {machine()}; backend {args.backend}, --workers {args.workers}; load {os.getloadavg()}")
        print("\n| request | n | median ms | p90 ms | notes |\n|---|---:|---:|---:|---|")
        pg = args.backend == "postgres"
        before = pg_commits(profile) if pg else 0
        show("GET registered-models/get, kept-alive", timed(n, lambda i: s.get(base + "registered-models/get",
                                                                          params={"name": "cost"})))  # fmt: skip
        reads = pg_commits(profile) if pg else 0
        show("POST registered-models/alias, kept-alive", timed(n, lambda i: s.post(base + "registered-models/alias",
                                                                                 json=alias(i))),  # fmt: skip
             f"{(pg_commits(profile) - reads) / n:.1f} commits per request, reads {(reads - before) / n:.1f}"
             if pg else "")  # fmt: skip
        quick = requests.Session()  # modelpins' own transport: kept alive, each answer's first packet ACKed at once
        quick.mount("http://", transport(0, 0, 2))
        show("GET registered-models/get, kept-alive, modelpins' transport (TCP_QUICKACK)",
             timed(n, lambda i: quick.get(base + "registered-models/get", params={"name": "cost"})))  # fmt: skip
        show("POST registered-models/alias, kept-alive, modelpins' transport (TCP_QUICKACK)",
             timed(n, lambda i: quick.post(base + "registered-models/alias", json=alias(i))))  # fmt: skip
        show(
            "GET registered-models/get, new connection each",
            timed(n, lambda i: requests.get(base + "registered-models/get", params={"name": "cost"})),
        )
        show(
            "POST registered-models/alias, new connection each",
            timed(n, lambda i: requests.post(base + "registered-models/alias", json=alias(i))),
        )
        if pg:
            pg_set(profile, synchronous_commit="off")
            show(
                "POST alias, kept-alive, synchronous_commit=off",
                timed(n, lambda i: s.post(base + "registered-models/alias", json=alias(i))),
            )
            pg_set(profile, fsync="off")
            show(
                "POST alias, kept-alive, + fsync=off",
                timed(n, lambda i: s.post(base + "registered-models/alias", json=alias(i))),
            )
    finally:
        server.stop()
        profile.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
