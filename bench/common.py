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

__all__ = ["Proxy", "Rest", "machine", "run_measured"]


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


def run_measured(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, object]:
    """Run a command; its wall time, exit code, output and peak RSS in MiB (when run through bench/rss.py)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    found = re.search(r"peak-rss-kib (\d+)", err)
    rss = int(found.group(1)) / 1024 if found else float("nan")
    return {"wall": wall, "code": proc.returncode, "out": out, "err": err, "rss": rss}


def machine() -> str:
    import mlflow

    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()
    return (
        f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; nproc {os.cpu_count()}; "
        f"{mem[1].split()[0]} {mem[1].split()[1]} total; {platform.platform()}; "
        f"python {platform.python_version()}; mlflow {mlflow.__version__}"
    )
