"""A real git repository holding model_pins.yaml, for the lifecycle commands."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.helpers.envs import pins, register
from tests.helpers.proxy import Proxy
from tests.helpers.seed import unique


class Repo:
    def __init__(self, root: Path):
        self.root = root
        self.pins = root / "model_pins.yaml"

    def git(self, *args: str, at: str | None = None) -> str:
        """`at`: the commit's author and committer date (ISO 8601), as a merge at that time would record."""
        env = {**os.environ, "GIT_AUTHOR_DATE": at, "GIT_COMMITTER_DATE": at} if at else None
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True, env=env).stdout

    def commit(self, text: str, message: str, at: str | None = None) -> str:
        self.pins.write_text(text)
        self.git("add", "model_pins.yaml")
        self.git("commit", "-qm", message, at=at)
        return self.git("rev-parse", "HEAD").strip()

    def merge_pr(self, number: int, branch: str, text: str, title: str, trailers: str = "") -> str:
        """A PR branch with one commit, merged into main with GitHub's merge-commit subject."""
        self.git("switch", "-q", "-c", branch)
        self.commit(text, title)
        self.git("switch", "-q", "main")
        body = f"Merge pull request #{number} from acme/{branch}\n\n{title}\n" + (f"\n{trailers}\n" if trailers else "")
        self.git("merge", "-q", "--no-ff", "-m", body, branch)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    r = Repo(tmp_path / "repo")
    r.root.mkdir()
    r.git("init", "-q", "-b", "main")
    r.git("config", "user.email", "dev@example.com")
    r.git("config", "user.name", "Dev")
    r.git("config", "commit.gpgsign", "false")
    return r


def pins_text(model: str, champion: int, challenger: int = 3) -> str:
    return f"""# Desired registry state.
version: 1
models:
  {model}:
    description: Scores loan applications.   # shown in the model card
    aliases:
      champion: {champion}     # promoted by PR
      challenger: {challenger}
"""


@pytest.fixture
def proxy_for():
    """A recording proxy in front of a given server (an environment's), to count its writes or make them fail."""
    started: list[Proxy] = []

    def make(url: str) -> Proxy:
        started.append(Proxy(url).start())
        return started[-1]

    yield make
    for p in started:
        p.stop()


@pytest.fixture
def two(mlflow_server, prod_server, tmp_path: Path):
    """A model in the staging server with three versions; the production server has none of it yet."""
    model = unique("credit")
    staging, prod = MlflowClient(mlflow_server.url), MlflowClient(prod_server.url)
    runs = register(staging, model, [0.86, 0.9, 0.7])
    path = pins(tmp_path / "model_pins.yaml", model, mlflow_server.url, prod_server.url, champion=2)
    return model, staging, prod, runs, path
