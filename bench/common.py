"""What the benchmarks share: a local MLflow server, raw-REST seeding, a counting proxy, machine facts."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.proxy import Proxy  # noqa: E402  (the same recording proxy the tests use)

__all__ = ["Proxy", "Rest", "machine", "machine_busy", "run_measured", "tree_cpu"]


class Rest:
    """Seed a registry fast through MLflow's REST API: no runs, `s3://` sources are READY at once."""

    def __init__(self, url: str, threads: int = 4):
        self.base = url.rstrip("/") + "/api/2.0/mlflow/"
        self.threads = threads
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=threads, pool_maxsize=threads)
        self.session.mount("http://", adapter)

    def post(self, endpoint: str, body: dict[str, object]) -> dict[str, object]:
        resp = self.session.post(self.base + endpoint, json=body, timeout=60)
        resp.raise_for_status()
        return dict(resp.json())

    def seed(self, names: Iterable[str], versions: int, aliases: dict[str, int]) -> None:
        """Create each model with `versions` versions and `aliases`, models in parallel threads."""

        def one(name: str) -> None:
            self.post("registered-models/create", {"name": name})
            for n in range(1, versions + 1):
                self.post("model-versions/create", {"name": name, "source": f"s3://bench/{name}/{n}"})
            for alias, version in aliases.items():
                self.post("registered-models/alias", {"name": name, "alias": alias, "version": str(version)})

        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(one, names))


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and all its living descendants (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (from /proc/stat): their deltas
    over a run say how saturated the machine was, whoever used it."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def run_measured(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, object]:
    """Run a command; its wall time, exit code, output, peak RSS in MiB (when run through bench/rss.py)
    and the CPU seconds it used (user + system, its own and its children's)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = re.search(r"peak-rss-kib (\d+)", err)
    rss = int(found.group(1)) / 1024 if found else float("nan")
    return {"wall": wall, "code": proc.returncode, "out": out, "err": err, "rss": rss, "cpu": cpu}


def machine() -> str:
    import mlflow

    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()
    return (
        f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; nproc {os.cpu_count()}; "
        f"{mem[1].split()[0]} {mem[1].split()[1]} total; {platform.platform()}; "
        f"python {platform.python_version()}; mlflow {mlflow.__version__}"
    )
