"""The PR comment of a promotion to production by copy, against two real MLflow servers and a real git repo."""

from __future__ import annotations

from mlflow import MlflowClient

from tests.helpers.cli import run
from tests.helpers.envs import ENV, pins, register
from tests.helpers.seed import unique
from tests.lifecycle.conftest import Repo


def test_pr_comment_shows_the_copy_and_asks_the_production_reviewers(mlflow_server, prod_server, repo: Repo):
    model = unique("credit")
    staging, prod = MlflowClient(mlflow_server.url), MlflowClient(prod_server.url)
    register(staging, model, [0.86, 0.9])
    text = pins(repo.pins, model, staging.tracking_uri, prod.tracking_uri, champion=2).read_text()
    text = text.replace("version: 1\n", "version: 1\nowners: ['@acme/platform']\n")
    text = text.replace("namespace: ml-production\n", "namespace: ml-production\n    owners: ['@acme/prod']\n")
    base = text.split("      production:\n")[0]  # main: staging's champion only
    repo.commit(base, "staging: champion v2")
    repo.git("switch", "-q", "-c", "promote")
    repo.commit(text, "production: champion from staging")

    made = run("report", "--base", "main", "--out", repo.root / "comment.md", cwd=repo.root, env=ENV)

    assert made.returncode == 0, made.stderr
    comment = (repo.root / "comment.md").read_text()
    assert "**Promotions across environments**" in comment
    assert f"| `production` | `copy` | `{model}` |  | `{model} v2` | `v1` |" in comment
    assert f"| `production` | `set` | `{model}` | `champion` | `-` | `1` |" in comment
    owners = next(line for line in comment.splitlines() if "in production" in line)
    assert "@acme/prod" in owners
    assert prod.search_registered_models(f"name = '{model}'") == []  # the comment writes nothing
