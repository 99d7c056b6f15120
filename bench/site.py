"""`modelpins site` for 1,000 and 10,000 models with 10,000 audit records, without a registry server.

    .venv/bin/python bench/site.py [--sizes 1000,10000] [--records 10000]

The board is built in-process from a generated pins file and registry reads given as data
(tests/site/synthetic.py, the same board tests/site/test_scale.py opens in Chromium); then
`modelpins.site.write` writes it through the guarded writer into a new directory under .bench/site.
Reported: the time to build the board (what `status` computes after its registry reads), to print
`status`'s table, and to write the site, the board and the site as wall time and CPU time (this
process's user and system seconds: other work on the machine lengthens the first far more than the
second), the load average before and after, and the weight: total, index.html, and the largest and
median model page. Goals (issue 33): total linear in the models, a model page's size independent of
the model count, and at 1,000 models under 3 s and under 2 MB for the index.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time

from common import ROOT, machine

from modelpins import site
from modelpins.board import text
from tests.site import synthetic

WORK = ROOT / ".bench" / "site"
HEADER = (
    "| models | audit records | board (status) (CPU) | status table | site write (CPU) | total | index.html "
    "| model page max / median | load before / after |"
)


def measure(n: int, records: int) -> dict[str, float]:
    tmp = WORK / f"n{n}"
    tmp.mkdir(parents=True)
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    board = synthetic.board(n, records, tmp)
    t1, c1 = time.perf_counter(), time.process_time()
    text.table(board)
    t2, c2 = time.perf_counter(), time.process_time()
    site.write(board, tmp / "site")
    t3, c3 = time.perf_counter(), time.process_time()
    pages = sorted((tmp / "site" / "models").iterdir())
    sizes = [p.stat().st_size for p in pages]
    total = sum(p.stat().st_size for p in (tmp / "site").rglob("*") if p.is_file())
    return {
        "models": n,
        "board_s": t1 - t0,
        "table_s": t2 - t1,
        "site_s": t3 - t2,
        "board_cpu_s": c1 - c0,
        "site_cpu_s": c3 - c2,
        "total_mb": total / 1e6,
        "index_kb": (tmp / "site" / "index.html").stat().st_size / 1e3,
        "page_max_kb": max(sizes) / 1e3,
        "page_median_kb": statistics.median(sizes) / 1e3,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--records", type=int, default=10000)
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    print(machine())
    print(HEADER)
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in map(int, args.sizes.split(",")):
        r = measure(n, args.records)
        print(
            f"| {n:,} | {args.records:,} | {r['board_s']:.2f} s ({r['board_cpu_s']:.2f} s) | {r['table_s']:.2f} s "
            f"| {r['site_s']:.2f} s ({r['site_cpu_s']:.2f} s) | {r['total_mb']:.1f} MB | {r['index_kb']:.0f} KB "
            f"| {r['page_max_kb']:.1f} / {r['page_median_kb']:.1f} KB "
            f"| {r['load_before']:.1f} / {r['load_after']:.1f} |",
            flush=True,
        )
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
