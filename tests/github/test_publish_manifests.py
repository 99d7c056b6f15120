"""scripts/publish_manifests.sh in real git repositories: it publishes the rendered manifests and the
image lock to the deploy branch, fast-forward only, and never pushes to the protected main branch.

The remote is a bare repository whose pre-receive hook refuses every update of `main`, as GitHub's
branch protection refuses a direct push there."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "publish_manifests.sh"
PROTECT_MAIN = """#!/bin/sh
while read old new ref; do
  if [ "$ref" = refs/heads/main ]; then
    echo "error: GH006: Protected branch update failed for refs/heads/main." >&2
    exit 1
  fi
done
"""


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def clone_with_manifests(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    (work / "model_pins.yaml").write_text("version: 1\nmodels: {}\n")
    (work / "manifests" / "production").mkdir(parents=True)
    (work / "manifests" / "production" / "a.yaml").write_text("kind: Service\n")
    (work / "deploy").mkdir()
    (work / "deploy" / "images.lock.json").write_text("{}\n")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    git(work, "push", "-q", "origin", "main")
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(PROTECT_MAIN)
    hook.chmod(0o755)
    return work


def publish(work: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_TOKEN": "t0ken-value", "GITHUB_REF_NAME": "main", "GITHUB_SHA": "f" * 40, **extra}
    return subprocess.run(["bash", str(SCRIPT)], cwd=work, env=env, capture_output=True, text=True)


def remote(tmp_path: Path, *args: str) -> str:
    return git(tmp_path / "remote.git", *args)


def test_first_publish_creates_the_deploy_branch_with_the_published_paths_only(tmp_path):
    work = clone_with_manifests(tmp_path)
    main_before = remote(tmp_path, "rev-parse", "main")
    (work / "unrelated.txt").write_text("not for this commit\n")

    result = publish(work)

    assert result.returncode == 0, result.stderr
    assert "t0ken-value" not in result.stdout + result.stderr
    assert remote(tmp_path, "rev-parse", "main") == main_before  # protected main is untouched
    files = remote(tmp_path, "ls-tree", "-r", "--name-only", "deploy").splitlines()
    assert files == ["deploy/images.lock.json", "manifests/production/a.yaml"]
    assert remote(tmp_path, "log", "-1", "--format=%an|%s|%b", "deploy").strip() == (
        f"modelpins[bot]|Render manifests for ffffffffffff|Source-Commit: {'f' * 40}"
    )
    assert git(work, "status", "--porcelain") == "?? unrelated.txt"  # the checkout's index is untouched


def test_a_change_is_a_fast_forward_of_the_deploy_branch(tmp_path):
    work = clone_with_manifests(tmp_path)
    assert publish(work).returncode == 0
    first = remote(tmp_path, "rev-parse", "deploy")
    (work / "manifests" / "production" / "a.yaml").write_text("kind: Service\nmetadata: {name: x}\n")
    (work / "deploy" / "images.lock.json").write_text('{"images": {}}\n')

    result = publish(work, GITHUB_SHA="a" * 40)

    assert result.returncode == 0, result.stderr
    assert remote(tmp_path, "rev-parse", "deploy~1") == first
    changed = remote(tmp_path, "show", "--name-only", "--format=", "deploy").splitlines()
    assert changed == ["deploy/images.lock.json", "manifests/production/a.yaml"]
    assert remote(tmp_path, "show", "deploy:manifests/production/a.yaml") == "kind: Service\nmetadata: {name: x}"


def test_a_removed_manifest_is_removed_from_the_deploy_branch(tmp_path):
    work = clone_with_manifests(tmp_path)
    (work / "manifests" / "staging").mkdir()
    (work / "manifests" / "staging" / "b.yaml").write_text("kind: Service\n")
    assert publish(work).returncode == 0
    (work / "manifests" / "staging" / "b.yaml").unlink()

    assert publish(work).returncode == 0

    files = remote(tmp_path, "ls-tree", "-r", "--name-only", "deploy").splitlines()
    assert files == ["deploy/images.lock.json", "manifests/production/a.yaml"]


def test_nothing_to_publish_when_current(tmp_path):
    work = clone_with_manifests(tmp_path)
    assert publish(work).returncode == 0
    before = remote(tmp_path, "rev-parse", "deploy")

    result = publish(work, GITHUB_SHA="b" * 40)

    assert result.returncode == 0 and "nothing to publish" in result.stdout
    assert remote(tmp_path, "rev-parse", "deploy") == before


def test_publishing_to_the_protected_branch_is_refused(tmp_path):
    work = clone_with_manifests(tmp_path)
    main_before = remote(tmp_path, "rev-parse", "main")

    result = publish(work, MODELPINS_DEPLOY_BRANCH="main")

    assert result.returncode == 2
    assert "MODELPINS_DEPLOY_BRANCH must be a branch other than main" in result.stdout
    assert remote(tmp_path, "rev-parse", "main") == main_before


def test_builds_on_the_deploy_branch_as_it_is_now(tmp_path):
    work = clone_with_manifests(tmp_path)
    assert publish(work).returncode == 0
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", "deploy", str(tmp_path / "remote.git"), str(other))
    (other / "manifests" / "production" / "a.yaml").write_text("kind: Service\n# someone else\n")
    git(other, "-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-qam", "other")
    git(other, "push", "-q", "origin", "deploy")
    theirs = git(other, "rev-parse", "HEAD")
    (work / "manifests" / "production" / "a.yaml").write_text("kind: Service\n# ours\n")

    result = publish(work)

    assert result.returncode == 0, result.stderr
    assert remote(tmp_path, "rev-parse", "deploy~1") == theirs  # a fast-forward, never a force push
    assert remote(tmp_path, "show", "deploy:manifests/production/a.yaml") == "kind: Service\n# ours"


def two_environments(work: Path) -> None:
    for env, deployment in (("staging", "risk-stg"), ("production", "risk")):
        (work / "manifests" / env).mkdir(parents=True, exist_ok=True)
        (work / "manifests" / env / "kustomization.yaml").write_text(f"resources:\n- ns.yaml\n- ../base/{deployment}\n")
        (work / "manifests" / "base" / deployment).mkdir(parents=True, exist_ok=True)
        (work / "manifests" / "base" / deployment / "d.yaml").write_text(f"kind: Deployment # {env}\n")


def test_one_environment_is_published_without_touching_the_other(tmp_path):
    work = clone_with_manifests(tmp_path)
    two_environments(work)
    assert publish(work, MODELPINS_PUBLISH_ENV="production").returncode == 0
    assert remote(tmp_path, "ls-tree", "-r", "--name-only", "deploy").splitlines() == [
        "deploy/images.lock.json",
        "manifests/base/risk/d.yaml",
        "manifests/production/a.yaml",
        "manifests/production/kustomization.yaml",
    ]
    (work / "manifests" / "base" / "risk" / "d.yaml").write_text("kind: Deployment # production, newer\n")
    (work / "manifests" / "base" / "risk-stg" / "d.yaml").write_text("kind: Deployment # staging, newer\n")

    result = publish(work, MODELPINS_PUBLISH_ENV="staging", MODELPINS_SOURCE_COMMIT="c" * 40)

    assert result.returncode == 0, result.stderr
    assert remote(tmp_path, "show", "deploy:manifests/base/risk-stg/d.yaml") == "kind: Deployment # staging, newer"
    assert remote(tmp_path, "show", "deploy:manifests/base/risk/d.yaml") == "kind: Deployment # production"
    assert remote(tmp_path, "log", "-1", "--format=%s|%b", "deploy").strip() == (
        f"Render staging manifests for cccccccccccc|Source-Commit: {'c' * 40}"
    )


def test_a_deployment_removed_from_an_environment_is_removed_from_the_deploy_branch(tmp_path):
    work = clone_with_manifests(tmp_path)
    two_environments(work)
    assert publish(work, MODELPINS_PUBLISH_ENV="staging").returncode == 0
    (work / "manifests" / "staging" / "kustomization.yaml").write_text("resources:\n- ns.yaml\n")

    assert publish(work, MODELPINS_PUBLISH_ENV="staging").returncode == 0

    files = remote(tmp_path, "ls-tree", "-r", "--name-only", "deploy").splitlines()
    assert files == ["deploy/images.lock.json", "manifests/staging/kustomization.yaml"]


def test_an_environment_that_was_not_rendered_is_refused(tmp_path):
    work = clone_with_manifests(tmp_path)

    result = publish(work, MODELPINS_PUBLISH_ENV="staging")

    assert result.returncode == 2
    assert "no manifests/staging/kustomization.yaml" in result.stdout
