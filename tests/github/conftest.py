"""Fixtures for the pull-request flow: a real git repository with a base branch and a PR branch."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.github_stub import GitHubStub


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


class PrRepo:
    """`main` holds the base pins file; `promote` is the pull request's branch."""

    def __init__(self, root: Path, base_text: str):
        self.root = root
        self.pins = root / "model_pins.yaml"
        git(root, "init", "-q", "-b", "main")
        git(root, "config", "user.email", "dev@example.com")
        git(root, "config", "user.name", "dev")
        self.commit(base_text, "base")
        git(root, "checkout", "-q", "-b", "promote")

    def commit(self, text: str, message: str) -> str:
        self.pins.write_text(text)
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", message)
        return git(self.root, "rev-parse", "HEAD")


@pytest.fixture
def pr_repo(tmp_path: Path):
    def make(base_text: str) -> PrRepo:
        root = tmp_path / "repo"
        root.mkdir()
        return PrRepo(root, base_text)

    return make


@pytest.fixture
def github() -> Iterator[GitHubStub]:
    stub = GitHubStub().start()
    yield stub
    stub.stop()


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)
