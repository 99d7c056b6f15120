"""A local MLflow tracking server for the demo, tests and benchmarks: sqlite and a local artifact dir by default;
any backend store URI and artifact destination (PostgreSQL and S3 from devkit.stores) when given.

Needs the full `mlflow` package (the `dev` extra). Not used by the pipeline itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from modelpins.errors import OperationFailed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# url -> the `--artifacts-destination` of each server started here that serves artefacts from object storage
# (tests reach the files behind the server there, as an operator re-uploading them would)
SERVED_FROM: dict[str, str] = {}


@dataclass
class DevServer:
    """One `mlflow server` process on loopback; `stop()` ends it, `start()` brings it back on the same port."""

    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    env_extra: dict[str, str] | None = None
    workers: int = 1  # gunicorn workers (`mlflow server --workers`)
    # True: artefacts go through the server (`mlflow-artifacts:/`, stored under artifact_root), as a cluster's
    # pods reach them; False: clients read and write artifact_root on this machine's disk directly.
    serve_artifacts: bool = False
    backend_store_uri: str = ""  # default: sqlite in root
    # an `s3://...` URI: artefacts are served (`--serve-artifacts`) from there; env_extra must reach the store
    artifacts_destination: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def artifact_root(self) -> Path:
        return self.root / "artifacts"

    def start(self, timeout: float = 300.0) -> DevServer:  # minutes on two cores shared by many
        self.root.mkdir(parents=True, exist_ok=True)
        self.artifact_root.mkdir(exist_ok=True)
        self.port = self.port or free_port()
        if self.artifacts_destination:
            SERVED_FROM[self.url] = self.artifacts_destination
        mlflow_bin = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(self.env_extra or {})}
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            [
                mlflow_bin,
                "server",
                "--backend-store-uri",
                self.backend_store_uri or f"sqlite:///{self.root / 'mlflow.db'}",
                *self._artifact_args(),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                # uvicorn kills a worker that does not answer its supervisor's ping within 5 s, and stops the
                # whole server when one dies before it served: on a busy machine that happens while workers import
                *(["--uvicorn-opts", "--timeout-worker-healthcheck 120"] if self.workers > 1 else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise OperationFailed(f"mlflow server exited early; see {self.root / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        self.stop()
        raise OperationFailed(f"mlflow server did not answer /health in {timeout:.0f}s; see {self.root / 'server.log'}")

    def _artifact_args(self) -> list[str]:
        if self.artifacts_destination or self.serve_artifacts:
            destination = self.artifacts_destination or str(self.artifact_root)
            return [
                "--serve-artifacts",
                "--default-artifact-root",
                "mlflow-artifacts:/",
                "--artifacts-destination",
                destination,
            ]
        return ["--default-artifact-root", str(self.artifact_root)]

    def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def seed_model(
    tracking_uri: str,
    name: str,
    versions: int | list[dict[str, float]] = 3,
    aliases: dict[str, int] | None = None,
    params: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    description: str = "",
    version_tags: dict[str, str] | None = None,
) -> list[str]:
    """Register `name` with one finished run per version and set `aliases`; return the run ids.

    `versions` is a count or one dict of metrics per version. Each run logs `params`
    and an artefact directory `model/` holding `files` (name -> text; a small JSON by default).
    """
    import json
    import tempfile

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    metric_sets: list[dict[str, float]] = [{} for _ in range(versions)] if isinstance(versions, int) else versions
    client.create_registered_model(name, description=description or None)
    experiment = client.get_experiment_by_name("modelpins-seed")
    exp_id = experiment.experiment_id if experiment else client.create_experiment("modelpins-seed")
    run_ids = []
    for number, metrics in enumerate(metric_sets, start=1):
        run = client.create_run(exp_id, run_name=f"{name}-v{number}")
        rid = run.info.run_id
        for key, value in metrics.items():
            client.log_metric(rid, key, value)
        for key, text in (params or {}).items():
            client.log_param(rid, key, text)
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = Path(tmp) / "model"
            model_dir.mkdir()
            for fname, text in (files or {"weights.json": json.dumps({"model": name, "version": number})}).items():
                (model_dir / fname).parent.mkdir(parents=True, exist_ok=True)
                (model_dir / fname).write_text(text)
            client.log_artifacts(rid, str(model_dir), "model")
        client.set_terminated(rid)
        client.create_model_version(name, f"runs:/{rid}/model", run_id=rid, tags=version_tags)
        run_ids.append(rid)
    for alias, number in (aliases or {}).items():
        client.set_registered_model_alias(name, alias, str(number))
    return run_ids
