"""The production-shaped stores behind a local MLflow server: a throwaway PostgreSQL cluster and an S3-compatible
object store, both on loopback, for the tests' and benchmarks' `postgres` registry profile.

- PostgreSQL: Debian's `postgresql` (initdb, pg_ctl, createdb from /usr/lib/postgresql/<major>/bin), a cluster
  made in a fresh directory and run as an unprivileged user (`postgres` when this process is root), trust
  authentication on 127.0.0.1 only. One database per MLflow server.
- S3: moto's standalone server (`moto_server`, the `moto[server]` package): MLflow's own tests use moto for S3,
  and no MinIO server installs here from a package. One bucket per MLflow server. Clients reach it with
  MLFLOW_S3_ENDPOINT_URL and dummy AWS keys (`S3Store.env`).

Not used by the pipeline itself.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devkit.devserver import DevServer, free_port
from modelpins.errors import OperationFailed

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_USER = "mlflow"  # the database role MLflow connects as (trust authentication on loopback)


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian's layout), or None."""
    found = sorted(
        glob.glob(PG_BIN_GLOB), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0
    )
    for path in reversed(found):
        if (Path(path) / "initdb").exists():
            return Path(path)
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


@dataclass
class Postgres:
    """A PostgreSQL cluster in a fresh directory: `start()` makes and starts it, `stop()` ends and deletes it.

    `settings` are server settings (`-c name=value`), e.g. {"fsync": "off"} to measure what durability costs.
    """

    settings: dict[str, str] = field(default_factory=dict)
    port: int = 0
    root: Path | None = None

    def _as_owner(self, argv: list[str]) -> list[str]:
        # initdb and postgres refuse to run as root: as root, run them as the unprivileged `postgres` account
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def start(self, timeout: float = 120.0) -> Postgres:
        bindir = pg_bin()
        if bindir is None:
            raise OperationFailed("PostgreSQL is not installed: apt-get install postgresql (or run `make sysdeps`)")
        # outside pytest's 0700 temporary tree: the cluster's owner must reach it
        self.root = Path(tempfile.mkdtemp(prefix="modelpins-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        self.port = self.port or free_port()
        run = lambda argv: subprocess.run(argv, check=True, capture_output=True, timeout=timeout)  # noqa: E731
        run(self._as_owner([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", PG_USER, "-E", "UTF8"]))
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        options += "".join(f" -c {k}={v}" for k, v in self.settings.items())
        log = self.root / "server.log"
        run(self._as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"]))
        self._bindir = bindir
        return self

    def create_database(self, name: str) -> str:
        """A new database `name`; returns MLflow's URI for it (`postgresql://` loads psycopg 3)."""
        argv = [str(self._bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, name]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.root is None:
            return
        argv = [str(self._bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"]
        subprocess.run(self._as_owner(argv), capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


@dataclass
class S3Store:
    """moto's standalone S3 server on loopback: `start()`, `bucket(name)`, `stop()`."""

    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    root: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """What MLflow, boto3 and the init container need to reach this store (dummy keys: moto checks none)."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "modelpins-test",
            "AWS_SECRET_ACCESS_KEY": "modelpins-test-secret",  # noqa: S105 - moto accepts any key
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self, timeout: float = 120.0) -> S3Store:
        self.root = Path(tempfile.mkdtemp(prefix="modelpins-s3-"))
        self.port = self.port or free_port()
        moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            [moto, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise OperationFailed(f"moto_server exited early; see {self.root / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):  # noqa: S310
                    return self
            except urllib.error.HTTPError:
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise OperationFailed(f"moto_server did not answer in {timeout:.0f}s")

    def client(self):  # a boto3 S3 client (boto3 has no bundled types)
        import boto3

        env = self.env
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )

    def bucket(self, name: str) -> str:
        """A new bucket; returns its `s3://` URI."""
        self.client().create_bucket(Bucket=name)
        return f"s3://{name}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


PROFILES = ("sqlite", "postgres")


@dataclass
class Profile:
    """Which registry the MLflow servers of a run sit on.

    `sqlite`: one worker, sqlite, artefacts on local disk (the demo's and the default tests' registry).
    `postgres`: `workers` workers on PostgreSQL, artefacts served from an S3 bucket (`--serve-artifacts`), as a
    platform team runs MLflow. Each `server()` gets a database and a bucket of its own in one shared cluster and store.
    """

    name: str = "sqlite"
    workers: int = 4
    pg_settings: dict[str, str] = field(default_factory=dict)
    postgres: Postgres | None = None
    s3: S3Store | None = None

    def __post_init__(self) -> None:
        if self.name not in PROFILES:
            raise OperationFailed(f"unknown registry profile '{self.name}'; one of: {', '.join(PROFILES)}")

    @property
    def env(self) -> dict[str, str]:
        """What a client of this profile's servers needs in its environment (the S3 endpoint and keys), or nothing."""
        return self.s3.env if self.s3 else {}

    def start(self) -> Profile:
        """Start the stores the profile needs (none for sqlite)."""
        if self.name == "postgres":
            self.postgres = self.postgres or Postgres(settings=self.pg_settings).start()
            self.s3 = self.s3 or S3Store().start()
        return self

    def server(self, root: Path, env_extra: dict[str, str] | None = None, **kw: object) -> DevServer:
        """A DevServer (not started) in `root` on this profile."""
        if self.name == "sqlite":
            return DevServer(root, env_extra=env_extra, **kw)  # type: ignore[arg-type]
        self.start()
        assert self.postgres is not None and self.s3 is not None
        self._count = getattr(self, "_count", 0) + 1
        name = f"mlflow{self._count}"
        kw.setdefault("workers", self.workers)
        return DevServer(
            root,
            env_extra={**self.s3.env, **(env_extra or {})},
            backend_store_uri=self.postgres.create_database(name),
            artifacts_destination=f"{self.s3.bucket(name)}/artifacts",
            **kw,  # type: ignore[arg-type]
        )

    def stop(self) -> None:
        for part in (self.s3, self.postgres):
            if part is not None:
                part.stop()
        self.s3 = self.postgres = None
