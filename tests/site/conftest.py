"""The demo models in the session's MLflow server, promoted the way a team does it.

A git repository holds the repository's model_pins.yaml and gate scripts. `modelpins gate`
records evidence and `modelpins apply` moves the aliases as PR #41 (champion 2 -> 3); PR #42
rolls champion back to 2 (--skip-gates, recorded); then someone moves challenger by hand in
MLflow (drift). Every step is the real command against the real server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from devkit import demo
from devkit.devserver import DevServer
from tests.helpers.cli import run

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Demo:
    repo: Path
    pins: Path
    url: str

    def modelpins(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        base = {"MLFLOW_TRACKING_URI": self.url, "GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "7001"}
        return run("--pins", self.pins, *args, cwd=self.repo, env={**base, **env})


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=dev", "-c", "user.email=dev@acme.example", *args],
                   check=True, capture_output=True)  # fmt: skip


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def promoted(mlflow_server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return promote(mlflow_server.url, tmp_path_factory.mktemp("site-repo"))


def promote(url: str, repo: Path) -> Demo:
    shutil.copytree(ROOT / "scripts" / "gates", repo / "scripts" / "gates")
    shutil.copy(ROOT / "model_pins.yaml", repo / "model_pins.yaml")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "Promote credit-risk-classifier v3 (#41)")
    d = Demo(repo, repo / "model_pins.yaml", url)
    demo.seed(url)
    _ok(d.modelpins("gate", MODELPINS_ACTOR="ci-gates"))
    _ok(d.modelpins("apply", "--yes", MODELPINS_ACTOR="alice", MODELPINS_PR="41"))
    text = d.pins.read_text()
    d.pins.write_text(re.sub(r"(credit-risk-classifier:.*?champion: )3", r"\g<1>2", text, count=1, flags=re.DOTALL))
    _git(repo, "commit", "-qam", "Roll back credit-risk-classifier champion to v2 (#42)")
    _ok(d.modelpins("apply", "--yes", "--skip-gates", MODELPINS_ACTOR="bob", MODELPINS_PR="42"))
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=url).set_registered_model_alias("credit-risk-classifier", "challenger", "5")
    return d
