"""plan and apply against a local MLflow server, next to the naive per-alias MlflowClient loop.

    .venv/bin/python bench/plan_apply.py [--sizes 100,500,1000,5000] [--naive-max 1000] [--full-max 1000]
                                         [--workers 4] [--parallel 4] [--backend sqlite|postgres]
                                         [--pg-setting fsync=off ...] [--direct]

For each registry size N (models with 3 aliases each: champion, challenger, production)
it measures, through a recording proxy that counts HTTP requests:
  - plan with no change, and the naive loop answering the same question; plan with 10 changes;
  - apply of 10 changes (cost should not grow with N beyond the paged reads);
  - apply of every alias (3N changes; up to --full-max) with `--parallel 1` (one change after the
    other) and then with `--parallel N`, both in the same run against the same server; naive the
    same (up to --naive-max).
The server is `mlflow server --workers W` (--workers, default 4) on loopback: on sqlite with artefacts on disk
(--backend sqlite, the default), or on a throwaway PostgreSQL cluster with artefacts served from moto's S3 server
(--backend postgres; devkit.stores), as a platform team runs MLflow. --pg-setting passes a server setting to that
PostgreSQL (e.g. fsync=off, synchronous_commit=off: what its durability costs per request).
--parallel takes a comma-separated list (1,4,8): each gets its own full apply, in that order.
--direct: the full applies talk to the server itself, not through the proxy (whose own Python threads take CPU
and change how connections are kept): their reads are not counted and their writes are the count modelpins
prints ("Applied N changes (W registry writes)"); the proxied rows before them show the requests are the same.
Each run is a fresh `modelpins` process (wall time includes start-up); peak RSS is the process's.
Server data lives in .bench/plan_apply and is deleted first. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path

from common import ROOT, Proxy, Rest, machine, machine_busy, run_measured, tree_cpu

from devkit.stores import PROFILES, Profile

ALIASES = ("champion", "challenger", "production")
FLIP = {1: 2, 2: 1}
PY = sys.executable
RSS = str(Path(__file__).with_name("rss.py"))
SERVER_PID = [0]  # the mlflow server's process (its workers are its descendants), set in main()
DIRECT = [""]  # --direct: the server's own URL, used by the full applies instead of the proxy's


def write_pins(path: Path, state: dict[str, dict[str, int]]) -> Path:
    lines = ["version: 1", "models:"]
    for name, aliases in state.items():
        lines += [f"  {name}:", "    aliases:", *(f"      {a}: {v}" for a, v in aliases.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(proxy: Proxy, argv: list[str], direct: bool = False) -> dict[str, object]:
    proxy.reset()
    server_before, proxy_before, machine_before = tree_cpu(SERVER_PID[0]), time.process_time(), machine_busy()
    result = run_measured([PY, RSS, *argv], cwd=ROOT)
    busy, total = (after - before for after, before in zip(machine_busy(), machine_before, strict=True))
    result["machine_busy"] = busy / total if total else 0.0
    result["server_cpu"] = tree_cpu(SERVER_PID[0]) - server_before
    result["proxy_cpu"] = time.process_time() - proxy_before  # this process does nothing else meanwhile
    if result["code"] != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result['code']}):\n{result['err']}")
    result["reads"], result["writes"] = len(proxy.reads()), len(proxy.writes())
    if direct:  # the proxy saw nothing: modelpins' own count of its writes
        printed = re.search(r"\((\d+) registry writes\)", str(result["out"]))
        result["reads"], result["writes"] = "-", int(printed.group(1)) if printed else 0
    return result


def modelpins(proxy: Proxy, pins: Path, *cmd: str, direct: bool = False) -> dict[str, object]:
    url = DIRECT[0] if direct else proxy.url
    return measure(proxy, ["modelpins", "--pins", str(pins), "--tracking-uri", url, *cmd], direct)


def naive(proxy: Proxy, pins: Path, mode: str) -> dict[str, object]:
    return measure(proxy, ["naive", mode, proxy.url, str(pins)])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,500,1000,5000")
    ap.add_argument("--naive-max", type=int, default=1000, help="largest N for the naive loop")
    ap.add_argument("--full-max", type=int, default=1000, help="largest N for applying all 3N changes")
    ap.add_argument("--workers", type=int, default=4, help="mlflow server --workers")
    ap.add_argument("--parallel", default="4", help="apply --parallel for the parallel rows (a list: 4,8)")
    ap.add_argument("--backend", choices=PROFILES, default="sqlite", help="the registry profile (devkit.stores)")
    ap.add_argument("--pg-setting", action="append", default=[], help="NAME=VALUE for the PostgreSQL server")
    ap.add_argument("--direct", action="store_true", help="the full applies without the proxy (writes as printed)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = ROOT / ".bench" / "plan_apply"
    shutil.rmtree(work, ignore_errors=True)
    settings = dict(s.split("=", 1) for s in args.pg_setting)
    profile = Profile(args.backend, workers=args.workers, pg_settings=settings).start()
    os.environ.update(profile.env)
    server = profile.server(work / "mlflow", workers=args.workers).start(timeout=900)
    assert server.proc is not None
    SERVER_PID[0] = server.proc.pid
    DIRECT[0] = server.url if args.direct else ""
    proxy = Proxy(server.url).start()
    rest = Rest(server.url)
    state: dict[str, dict[str, int]] = {}
    rows: list[tuple[object, ...]] = []
    print(f"machine: {machine()}; mlflow server --workers {args.workers}", flush=True)
    print(f"backend: {args.backend} {settings}", flush=True)
    print(f"load: {os.getloadavg()}", flush=True)
    try:
        for n in sizes:
            names = [f"bench-{i:05d}" for i in range(len(state), n)]
            t = time.perf_counter()
            rest.seed(names, versions=2, aliases={"champion": 1, "challenger": 2, "production": 1})
            state.update({name: {"champion": 1, "challenger": 2, "production": 1} for name in names})
            print(f"seeded {len(names)} models in {time.perf_counter() - t:.0f}s (registry: {n})", flush=True)
            rows += run_size(n, state, proxy, work, args)
            print_table(rows)
    finally:
        proxy.stop()
        server.stop()
        profile.stop()
    print_table(rows, final=True)
    return 0


def run_size(n: int, state: dict[str, dict[str, int]], proxy: Proxy, work: Path, args: argparse.Namespace) -> list:  # type: ignore[type-arg]
    rows = []
    pins = work / f"pins-{n}.yaml"

    def row(what: str, tool: str, changes: int, r: dict[str, object]) -> tuple[object, ...]:
        out = (n, what, tool, changes, r["wall"], r["reads"], r["writes"], r["rss"], r["cpu"], r["proxy_cpu"])
        out += (r["server_cpu"], r["machine_busy"])
        print("  " + " | ".join(str(x) for x in out), flush=True)
        return out

    write_pins(pins, state)
    mp = modelpins(proxy, pins, "plan")
    rows.append(row("plan, no change", "modelpins", 0, mp))
    if n <= args.naive_max:
        rows.append(row("plan, no change", "naive", 0, naive(proxy, pins, "plan")))

    for round_, tool in enumerate(("modelpins", "naive")):
        if tool == "naive" and n > args.naive_max:
            break
        for name in list(state)[round_ * 10 : round_ * 10 + 10]:  # 10 changes, different models per tool
            state[name]["champion"] = FLIP[state[name]["champion"]]
        write_pins(pins, state)
        if tool == "modelpins":
            rows.append(row("plan, 10 changes", tool, 10, modelpins(proxy, pins, "plan")))
        r = modelpins(proxy, pins, "apply", "--yes") if tool == "modelpins" else naive(proxy, pins, "apply")
        rows.append(row("apply 10 changes", tool, 10, r))

    if n <= args.full_max:
        parallels = ["1", *(p for p in args.parallel.split(",") if p != "1")]
        runs = [*(("modelpins", p) for p in parallels), ("naive", "")]
        for tool, parallel in runs:
            if tool == "naive" and n > args.naive_max:
                break
            for aliases in state.values():
                for a in ALIASES:
                    aliases[a] = FLIP[aliases[a]]
            write_pins(pins, state)
            if tool == "modelpins":
                r = modelpins(proxy, pins, "apply", "--yes", "--parallel", parallel, direct=args.direct)
                direct = ", direct" if args.direct else ""
                rows.append(row(f"apply all {3 * n}, --parallel {parallel}{direct}", tool, 3 * n, r))
            else:
                rows.append(row(f"apply all {3 * n}", tool, 3 * n, naive(proxy, pins, "apply")))
        print(f"  load: {os.getloadavg()}", flush=True)
    return rows


def print_table(rows: list, final: bool = False) -> None:  # type: ignore[type-arg]
    if not final:
        return
    head = "models | what | tool | changes | wall s | reads | writes | peak RSS MiB | naive/modelpins (wall, requests)"
    print(f"\n| {head} |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---|")
    by_key = {(r[0], r[1], r[2]): r for r in rows}
    for r in rows:
        ratio = ""
        if r[2] == "naive":
            mp = by_key.get((r[0], r[1], "modelpins")) or by_key[(r[0], f"{r[1]}, --parallel 1", "modelpins")]
            ratio = f"{r[4] / mp[4]:.1f}x, {(r[5] + r[6]) / (mp[5] + mp[6]):.1f}x"
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.2f} | {r[5]} | {r[6]} | {r[7]:.0f} | {ratio} |")
    print("\n--parallel 1 / --parallel N, same run (wall; requests must be equal):")
    for r in rows:
        found = re.search(r"--parallel (\d+)", r[1])
        if r[2] == "modelpins" and found and found.group(1) != "1":
            one = by_key[(r[0], r[1].replace(found.group(0), "--parallel 1"), "modelpins")]
            same = "equal" if (one[5], one[6]) == (r[5], r[6]) else "DIFFERENT"
            print(
                f"  {r[0]:>5} models, {r[1]}: {one[4] / r[4]:.2f}x faster; requests {one[5]}+{one[6]} vs "
                f"{r[5]}+{r[6]} ({same})"
            )
    print_cpu(rows)
    print("\nGrowth: plan reads vs ceil(models/1000) + 2 (the server's /version, one version search), apply")
    print("writes vs 2 x changes (alias, then its record) + 4 (the lock's create, and its guarded delete: the guard's")
    print("create, the lock's delete, the guard's delete), + 1 per renewal of the lock's expiry tag (every")
    print("MODELPINS_LOCK_TTL / 3 = 200 s), + 1 when the branch's applied commit changes (head only: 2 more reads,")
    print("before the plan and under the lock):")
    for r in rows:
        if r[2] != "modelpins":
            continue
        bound = math.ceil(r[0] / 1000) + 2
        if r[1].startswith("plan"):
            print(f"  {r[0]:>5} models, plan: {r[5]} reads (bound {bound})")
        else:
            print(f"  {r[0]:>5} models, {r[1]}: {r[6]} writes (2 x {r[3]} + 4 = {2 * r[3] + 4}), {r[5]} reads")


def print_cpu(rows: list) -> None:  # type: ignore[type-arg]
    """Where the CPU went in each full apply, and the speed-up two cores allow at most.

    The client, the proxy and the server's workers share the machine's cores: `--parallel N` can at
    best keep every core busy, so its wall time is at least (their CPU seconds) / cores.
    """
    cores = len(os.sched_getaffinity(0))  # fewer than the machine's under `taskset`
    print(f"\nCPU seconds of the full applies: client + proxy + server = ours; ours / (wall x {cores} cores);")
    print("the whole machine's busy share over the run (ours and everyone else's, /proc/stat):")
    for r in rows:
        if r[2] != "modelpins" or "--parallel" not in r[1]:
            continue
        ours = r[8] + r[9] + r[10]
        requests = (r[5] if isinstance(r[5], int) else 0) + r[6]  # --direct: writes only
        print(
            f"  {r[0]:>5} models, {r[1]}: {r[8]:.1f} + {r[9]:.1f} + {r[10]:.1f} = {ours:.1f} s"
            f" ({ours / r[3] * 1000:.1f} ms per change, server {r[10] / requests * 1000:.1f} ms per request);"
            f" ours {ours / (r[4] * cores):.0%} of the cores; machine busy {r[11]:.0%};"
            f" wall floor with every core ours: {ours / cores:.1f} s"
        )


if __name__ == "__main__":
    raise SystemExit(main())
