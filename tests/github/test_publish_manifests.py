"""scripts/publish_manifests.sh in real git repositories: commits rendered manifests, or nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "publish_manifests.sh"


def git(cwd, *args):  # type: ignore[no-untyped-def]
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def clone_with_manifests(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    (work / "manifests").mkdir()
    (work / "manifests" / "a.yaml").write_text("kind: Service\n")
    (work / "deploy").mkdir()
    (work / "deploy" / "images.lock.json").write_text("{}\n")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    git(work, "push", "-q", "origin", "main")
    return work


def publish(work: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_TOKEN": "t0ken-value", "GITHUB_REF_NAME": "main", "GITHUB_SHA": "f" * 40}
    return subprocess.run(["bash", str(SCRIPT)], cwd=work, env=env, capture_output=True, text=True)


def test_commits_and_pushes_changed_manifests_only(tmp_path):  # type: ignore[no-untyped-def]
    work = clone_with_manifests(tmp_path)
    (work / "manifests" / "a.yaml").write_text("kind: Service\nmetadata: {name: x}\n")
    (work / "unrelated.txt").write_text("not for this commit\n")

    result = publish(work)

    assert result.returncode == 0, result.stderr
    assert "t0ken-value" not in result.stdout + result.stderr
    remote_head = git(tmp_path / "remote.git", "log", "-1", "--format=%an %s", "main")
    assert remote_head == "modelpins[bot] Render manifests for ffffffffffff"
    changed = git(tmp_path / "remote.git", "show", "--name-only", "--format=", "main")
    assert changed == "manifests/a.yaml"


def test_nothing_to_commit_when_current(tmp_path):  # type: ignore[no-untyped-def]
    work = clone_with_manifests(tmp_path)
    before = git(tmp_path / "remote.git", "rev-parse", "main")
    result = publish(work)
    assert result.returncode == 0 and "nothing to commit" in result.stdout
    assert git(tmp_path / "remote.git", "rev-parse", "main") == before
