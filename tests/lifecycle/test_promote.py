"""promote on a real git repository and the real MLflow server; --open-pr against the GitHub stand-in."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import run
from tests.helpers.github_stub import GitHubStub
from tests.helpers.seed import seed_model, unique
from tests.lifecycle.conftest import pins_text


@pytest.fixture
def github() -> Iterator[GitHubStub]:
    stub = GitHubStub().start()
    yield stub
    stub.stop()


def changed_lines(repo, *refs: str) -> list[str]:
    diff = repo.git("diff", *refs, "--unified=0", "--", "model_pins.yaml").splitlines()
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def with_origin(repo, tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    repo.git("remote", "add", "origin", str(bare))
    return bare


def test_promote_to_a_branch_is_a_one_line_diff(repo, client, mlflow_server):
    model = unique("promote")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")
    before = repo.pins.read_text()

    result = run(
        "--tracking-uri", mlflow_server.url, "promote", f"{model}@champion", "4", "--branch", "p4", cwd=repo.root
    )

    assert result.returncode == 0, result.stderr
    # the checkout is not moved: the commit is on the new branch only
    assert repo.git("branch", "--show-current").strip() == "main"
    assert repo.pins.read_text() == before
    assert changed_lines(repo, "main", "p4") == [
        "-      champion: 2     # promoted by PR",
        "+      champion: 4     # promoted by PR",
    ]
    assert repo.git("show", "p4:model_pins.yaml") == before.replace("champion: 2 ", "champion: 4 ")
    assert repo.git("log", "-1", "--format=%s", "p4").strip() == f"Promote {model}@champion to version 4 (from 2)"
    assert repo.git("rev-parse", "p4~1") == repo.git("rev-parse", "main")
    assert repo.git("status", "--porcelain").strip() == ""
    assert "your checkout is unchanged" in result.stdout
    assert "gh pr create --base main --head p4" in result.stdout
    # the registry is not touched: promotion happens when the pull request is merged and applied
    assert client.get_registered_model(model).aliases == {}


def test_promote_a_new_alias_adds_one_line(repo, client, mlflow_server):
    model = unique("promote-new")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")

    result = run("--tracking-uri", mlflow_server.url, "promote", f"{model}@canary", "4", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    assert changed_lines(repo, "HEAD") == ["+      canary: 4"]
    assert "plan" not in result.stderr


def test_promote_a_model_not_yet_in_the_file_adds_its_block(repo, client, mlflow_server):
    model, newcomer = unique("promote-old"), unique("promote-newcomer")
    seed_model(client, model, 2)
    seed_model(client, newcomer, 2)
    repo.commit(pins_text(model, 2), "Pin")

    result = run("--tracking-uri", mlflow_server.url, "promote", f"{newcomer}@champion", "2", cwd=repo.root)

    assert result.returncode == 0, result.stderr
    assert changed_lines(repo, "HEAD") == [f"+  {newcomer}:", "+    aliases:", "+      champion: 2"]


def test_open_pr_pushes_and_opens_the_pull_request(repo, client, mlflow_server, github, tmp_path):
    model = unique("promote-pr")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")
    bare = with_origin(repo, tmp_path)

    result = run(
        "--tracking-uri",
        mlflow_server.url,
        "promote",
        f"{model}@champion",
        "4",
        "--open-pr",
        cwd=repo.root,
        env=github.env(),
    )

    assert result.returncode == 0, result.stderr
    branch = f"promote/{model}-champion-v4"
    (pull,) = github.pulls
    assert pull["title"] == f"Promote {model}@champion to version 4 (from 2)"
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (branch, "main")
    assert f"| move | `{model}` | `champion` | 2 | 4 |" in pull["body"]
    assert f"{mlflow_server.url}/#/models/{model}/versions/4" in pull["body"]
    assert "https://github.com/acme/models/pull/1" in result.stdout
    pushed = subprocess.run(
        ["git", "--git-dir", str(bare), "rev-parse", f"refs/heads/{branch}"], capture_output=True, text=True
    )
    assert pushed.stdout.strip() == repo.git("rev-parse", branch).strip()
    assert github.token not in result.stdout + result.stderr


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_open_pr_leaves_the_working_tree_byte_identical(repo, client, mlflow_server, github, tmp_path):
    model = unique("promote-tree")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")
    with_origin(repo, tmp_path)
    repo.git("switch", "-q", "-c", "feature")  # the user is on a branch of their own ...
    (repo.root / "notes.txt").write_text("work in progress\n")  # ... with an untracked file
    (repo.root / "tracked.txt").write_text("v1\n")
    repo.git("add", "tracked.txt")
    repo.git("commit", "-qm", "tracked")
    (repo.root / "tracked.txt").write_text("v2, not committed\n")  # ... and an uncommitted edit
    (repo.root / "staged.txt").write_text("staged\n")
    repo.git("add", "staged.txt")  # ... and something staged
    before, status, index = tree_bytes(repo.root), repo.git("status", "--porcelain"), repo.git("ls-files", "-s")

    result = run(
        "--tracking-uri",
        mlflow_server.url,
        "promote",
        f"{model}@champion",
        "4",
        "--open-pr",
        cwd=repo.root,
        env=github.env(),
    )

    assert result.returncode == 0, result.stderr
    assert tree_bytes(repo.root) == before
    assert repo.git("branch", "--show-current").strip() == "feature"
    assert (repo.git("status", "--porcelain"), repo.git("ls-files", "-s")) == (status, index)
    (pull,) = github.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (f"promote/{model}-champion-v4", "feature")
    shown = repo.git("show", f"promote/{model}-champion-v4:model_pins.yaml")
    assert "champion: 4 " in shown and "staged" not in repo.git("show", "--stat", f"promote/{model}-champion-v4")


def test_a_branch_without_origin_says_there_is_nowhere_to_push(repo, client, mlflow_server):
    model = unique("promote-noorigin")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")

    result = run(
        "--tracking-uri",
        mlflow_server.url,
        "promote",
        f"{model}@champion",
        "4",
        "--open-pr",
        cwd=repo.root,
        env={"GITHUB_TOKEN": ""},
    )

    assert result.returncode == 0, result.stderr
    assert "this repository has no remote 'origin', so there is nowhere to push the branch yet" in result.stdout
    assert "git remote add origin URL" in result.stdout


def test_open_pr_with_a_token_but_no_origin_exits_2_and_commits_nothing(repo, client, mlflow_server, github):
    model = unique("promote-noorigin-token")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")
    refs = repo.git("for-each-ref")

    result = run(
        "--tracking-uri",
        mlflow_server.url,
        "promote",
        f"{model}@champion",
        "4",
        "--open-pr",
        cwd=repo.root,
        env=github.env(),
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert "does not have" in result.stderr and "git remote add origin URL" in result.stderr
    assert repo.git("for-each-ref") == refs and github.pulls == []


def test_open_pr_without_a_token_prints_the_gh_line(repo, client, mlflow_server, tmp_path):
    model = unique("promote-gh")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")
    bare = with_origin(repo, tmp_path)

    result = run(
        "--tracking-uri",
        mlflow_server.url,
        "promote",
        f"{model}@champion",
        "3",
        "--open-pr",
        cwd=repo.root,
        env={"GITHUB_TOKEN": ""},
    )

    assert result.returncode == 0, result.stderr
    branch = f"promote/{model}-champion-v3"
    assert "GITHUB_TOKEN is not set" in result.stdout
    assert f"git push -u origin {branch} && gh pr create --base main --head {branch} " in result.stdout
    assert f"--title 'Promote {model}@champion to version 3 (from 2)'" in result.stdout
    assert subprocess.run(["git", "--git-dir", str(bare), "branch"], capture_output=True, text=True).stdout == ""


def test_promote_of_a_missing_version_exits_2_and_writes_nothing(repo, client, mlflow_server):
    model = unique("promote-missing")
    seed_model(client, model, 3)
    head = repo.commit(pins_text(model, 2), "Pin")
    before = repo.pins.read_bytes()

    result = run(
        "--tracking-uri", mlflow_server.url, "promote", f"{model}@champion", "9", "--branch", "p9", cwd=repo.root
    )

    assert result.returncode == 2, result.stderr
    assert f"model_pins.yaml:7: version 9 of '{model}' does not exist in MLflow" in result.stderr
    assert "fix: promote an existing version (newest: 1, 2, 3)" in result.stderr
    assert repo.pins.read_bytes() == before
    assert repo.git("branch", "--list", "p9").strip() == ""
    assert repo.git("rev-parse", "HEAD").strip() == head
    assert repo.git("status", "--porcelain").strip() == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nomodel@champion", "2"], "is not pinned"),  # replaced below with a model not in MLflow
        (["{model}@latest", "2"], "reserved by MLflow"),
        (["{model}@champion", "2"], "already pinned to 2"),
        (["{model}", "2"], "is not MODEL@ALIAS"),
        (["{model}@champion", "0"], "0 is not in the range"),
    ],
)
def test_promote_bad_input_exits_2_and_writes_nothing(repo, client, mlflow_server, args, message):
    model = unique("promote-bad")
    seed_model(client, model, 3)
    repo.commit(pins_text(model, 2), "Pin")
    before = repo.pins.read_bytes()
    if message == "is not pinned":
        args, message = [f"{unique('unregistered')}@champion", "2"], "has no versions in MLflow"

    result = run("--tracking-uri", mlflow_server.url, "promote", *(a.format(model=model) for a in args), cwd=repo.root)

    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert repo.pins.read_bytes() == before


def test_promote_gate_runs_the_gates_first_and_blocks_on_failure(repo, client, mlflow_server):
    model = unique("promote-gate")
    seed_model(client, model, [{"auc": 0.9}, {"auc": 0.7}, {"auc": 0.95}])
    gates = "    gates:\n      champion:\n        - {kind: threshold, metric: auc, min: 0.85}\n"
    repo.commit(pins_text(model, 1) + gates, "Pin with a gate")
    before = repo.pins.read_bytes()

    failed = run("--tracking-uri", mlflow_server.url, "promote", f"{model}@champion", "2", "--gate", cwd=repo.root)
    assert failed.returncode == 1, failed.stderr
    assert "gates failed; nothing was written" in failed.stderr
    assert repo.pins.read_bytes() == before

    passed = run("--tracking-uri", mlflow_server.url, "promote", f"{model}@champion", "3", "--gate", cwd=repo.root)
    assert passed.returncode == 0, passed.stderr
    assert changed_lines(repo, "HEAD") == [
        "-      champion: 1     # promoted by PR",
        "+      champion: 3     # promoted by PR",
    ]
    # --gate runs them locally only: no evidence tag is recorded on the version
    assert "modelpins.gates.champion" not in client.get_model_version(model, "3").tags


def test_rollback_open_pr_uses_the_same_pull_request_code(repo, client, mlflow_server, github, tmp_path):
    model = unique("rollback-pr")
    seed_model(client, model, 4)
    repo.commit(pins_text(model, 2), "Pin")
    repo.commit(pins_text(model, 4), "Promote")
    with_origin(repo, tmp_path)

    result = run("rollback", f"{model}@champion", "--open-pr", cwd=repo.root, env=github.env())

    assert result.returncode == 0, result.stderr
    (pull,) = github.pulls
    assert pull["title"] == f"Roll back {model}@champion to version 2 (from 4)"
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (f"rollback/{model}-champion-v2", "main")
    assert f"| move | `{model}` | `champion` | 4 | 2 |" in pull["body"]
    # the trailer apply records the rollback by: a squash merge with the pull request's body keeps it
    assert pull["body"].endswith(f"\n\nModelpins-Rollback: {model}@champion 4 -> 2")
