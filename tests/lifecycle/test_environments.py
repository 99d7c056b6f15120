"""Promotion across environments on real MLflow servers: staging and production on two separate servers,
and both on one server under per-environment model names (`staging.{model}`, `prod.{model}`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from modelpins.audit.records import audit_entries, audit_key
from modelpins.tags import COPY_SOURCE_TAG
from tests.helpers.cli import run
from tests.helpers.envs import ENV, line_of, pins, register, versions
from tests.helpers.proxy import Fault
from tests.helpers.seed import unique


def test_copy_then_alias_move_across_two_servers(two):
    model, staging, prod, runs, path = two

    plan = run("--pins", path, "plan", env=ENV)
    assert plan.returncode == 0, plan.stderr
    assert "copy" in plan.stdout and f"{model} v2" in plan.stdout and "v1 (new)" in plan.stdout

    result = run("--pins", path, "apply", "--yes", env=ENV)

    assert result.returncode == 0, result.stderr
    assert staging.get_registered_model(model).aliases == {"champion": "2"}
    (copy,) = versions(prod, model)
    assert prod.get_registered_model(model).aliases == {"champion": copy.version}
    # what copy_model_version carries over: run link, tags, description; the source is where v2's files are
    assert copy.run_id == runs[1] and copy.description == "trained 2" and copy.tags["team"] == "risk"
    assert copy.source == f"s3://acme-models/{model}/2"
    provenance = json.loads(copy.tags[COPY_SOURCE_TAG])
    assert provenance == {"registry": two[1].tracking_uri, "model": model, "version": 2}
    (_, record), *_ = audit_entries(copy.tags, "champion")[-1:]
    assert record["copied_from"] == {
        "environment": "staging",
        "registry": staging.tracking_uri,
        "model": model,
        "version": 2,
    }
    assert record["actor"] == "ci-bot" and record["to"] == int(copy.version)
    # the target's gates ran on the copy, with the source run's accuracy, and left their evidence on it
    evidence = json.loads(copy.tags["modelpins.gates.champion"])
    assert evidence["passed"] is True

    chain = run("--pins", path, "lineage", "--environment", "production", f"{model}@champion")

    assert chain.returncode == 0, chain.stderr
    copy_line, source_line = (i for i, line in enumerate(chain.stdout.splitlines()) if "version" in line)
    assert chain.stdout.splitlines()[copy_line].startswith(f"{model} version {copy.version}")
    assert chain.stdout.splitlines()[source_line].strip().startswith(f"copy of: {model} version 2")
    assert chain.stdout.count(runs[1]) == 2, chain.stdout  # the copy's run, then the staging version's run

    again = run("--pins", path, "apply", "--yes", env=ENV)

    assert again.returncode == 0, again.stderr
    assert "No changes in the environments' registries." in again.stdout
    assert [v.version for v in versions(prod, model)] == [copy.version]
    assert prod.get_model_version(model, copy.version).tags == copy.tags  # nothing written


def test_interrupted_between_copy_and_alias_converges_without_a_second_copy(two, proxy_for):
    model, staging, prod, _, path = two
    front = proxy_for(prod.tracking_uri)
    front.faults.append(Fault(503, match="POST /api/2.0/mlflow/registered-models/alias"))  # production's move fails
    pins(path, model, staging.tracking_uri, front.url, champion=2)

    broken = run("--pins", path, "apply", "--yes", env={**ENV, "MODELPINS_HTTP_RETRIES": "0"})

    assert broken.returncode == 1, broken.stderr
    assert f"failed   {model}@champion" in broken.stderr and "Run apply again" in broken.stderr
    assert len(versions(prod, model)) == 1 and prod.get_registered_model(model).aliases == {}
    front.faults.clear()

    healed = run("--pins", path, "apply", "--yes", env=ENV)

    assert healed.returncode == 0, healed.stderr
    (copy,) = versions(prod, model)
    assert prod.get_registered_model(model).aliases == {"champion": copy.version}


def test_source_version_deleted_before_apply_is_refused_with_its_line(two):
    model, staging, prod, _, path = two
    staging.delete_model_version(model, "2")

    result = run("--pins", path, "apply", "--yes", env=ENV)

    assert result.returncode == 2, result.stderr
    assert f"{path}:{line_of(path, 'champion: 2')}: version 2 of '{model}' does not exist" in result.stderr
    assert prod.search_registered_models(f"name = '{model}'") == []  # nothing written
    assert staging.get_registered_model(model).aliases == {}


def test_gates_run_on_the_copy_with_the_source_runs_evidence(two):
    model, staging, prod, _, path = two
    # staging's `candidate` has no gates; production's champion needs accuracy >= 0.8, and v3 scored 0.7
    pins(path, model, staging.tracking_uri, prod.tracking_uri, champion=3, staging_alias="candidate")

    result = run("--pins", path, "apply", "--yes", env=ENV)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "accuracy" in result.stderr and "refusing to apply" in result.stderr
    (copy,) = versions(prod, model)  # the copy is made; its alias is not moved onto it
    assert prod.get_registered_model(model).aliases == {}
    assert json.loads(copy.tags["modelpins.gates.champion"])["passed"] is False


def test_soak_time_refuses_an_early_promotion_and_an_override_is_recorded(two):
    model, staging, prod, _, path = two
    pins(path, model, staging.tracking_uri, prod.tracking_uri, champion=2)
    staging.set_registered_model_alias(model, "champion", "2")
    two_hours_ago = time.time() - 2 * 3600
    record = {
        "action": "set",
        "alias": "champion",
        "from": None,
        "to": 2,
        "actor": "ci-bot",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(two_hours_ago)),
    }
    staging.set_model_version_tag(model, "2", audit_key("champion", two_hours_ago), json.dumps(record))
    pins(path, model, staging.tracking_uri, prod.tracking_uri, champion=2, soak="24h")

    checked = run("--pins", path, "validate", env=ENV)  # the PR check, with the servers
    refused = run("--pins", path, "apply", "--yes", env=ENV)

    assert checked.returncode == 1 and "allowed from" in checked.stderr, checked.stderr
    assert refused.returncode == 1, refused.stderr
    line = line_of(path, "promote_from")
    assert f"{path}:{line}: {model}@champion in production promotes version 2 of staging@champion" in refused.stderr
    assert "(2h 00m)" in refused.stderr and "(22h 00m left)" in refused.stderr or "(21h 59m left)" in refused.stderr
    assert prod.search_registered_models(f"name = '{model}'") == []

    pins(path, model, staging.tracking_uri, prod.tracking_uri, champion=2, soak="24h", override="CVE-2026-1 hotfix")
    forced = run("--pins", path, "apply", "--yes", env=ENV)

    assert forced.returncode == 0, forced.stderr
    assert "soak time overridden" in forced.stderr
    (copy,) = versions(prod, model)
    (_, audit), *_ = audit_entries(copy.tags, "champion")[-1:]
    assert audit["soak_override"] == "CVE-2026-1 hotfix"


def test_one_server_with_per_environment_model_names(mlflow_server, tmp_path: Path):
    model = unique("risk")
    client = MlflowClient(mlflow_server.url)
    register(client, f"staging.{model}", [0.9, 0.91])
    path = pins(
        tmp_path / "model_pins.yaml",
        model,
        mlflow_server.url,
        mlflow_server.url,
        champion=2,
        templates=("staging.{model}", "prod.{model}"),
    )

    result = run("--pins", path, "apply", "--yes", env=ENV)

    assert result.returncode == 0, result.stderr
    (copy,) = versions(client, f"prod.{model}")
    assert copy.source == f"models:/staging.{model}/2"  # as copy_model_version writes it on one server
    assert client.get_registered_model(f"prod.{model}").aliases == {"champion": copy.version}
    again = run("--pins", path, "apply", "--yes", env=ENV)
    assert again.returncode == 0 and len(versions(client, f"prod.{model}")) == 1


BAD = """version: 1
environments:
  staging: {namespace: ml-staging, registry: {model: "staging.{model}"}}
  production: {namespace: ml-production, registry: {model: "prod.{model}"}}
  dev: {namespace: ml-dev, registry: {model: "dev.{model}"}}
promotion:
  order: [dev, staging, production]
models:
  credit:
    environments:
      dev: {champion: 1}
      staging:
        champion: {promote_from: dev@champion}
      production:
        champion: {promote_from: PROD_SOURCE}
"""


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("qa@champion", "promote_from names environment 'qa', which is not declared"),
        ("dev@champion", "promote_from dev@champion, but the promotion order puts 'staging' right before 'production'"),
        ("staging@challenger", "promote_from staging@challenger, but 'credit' pins no alias 'challenger' in staging"),
    ],
)
def test_bad_promotions_are_invalid_input_with_their_line(tmp_path: Path, source: str, message: str) -> None:
    path = tmp_path / "model_pins.yaml"
    path.write_text(BAD.replace("PROD_SOURCE", source))

    result = run("--pins", path, "validate")

    assert result.returncode == 2
    assert f"{path}:15: credit@champion in production: {message}" in result.stderr


def test_a_cycle_of_promotions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model_pins.yaml"
    text = BAD.replace("PROD_SOURCE", "staging@champion").replace(
        "promotion:\n  order: [dev, staging, production]\n", ""
    )
    path.write_text(text.replace("dev: {champion: 1}", "dev:\n        champion: {promote_from: production@champion}"))

    result = run("--pins", path, "validate")

    assert result.returncode == 2
    assert "promote_from goes round in a cycle" in result.stderr
    line = line_of(path, "promote_from: staging@champion")
    assert (
        f"{path}:{line}: credit@champion in production: promote_from goes round in a cycle: "
        "production@champion -> staging@champion -> dev@champion -> production@champion" in result.stderr
    )


def test_a_change_to_a_production_copy_needs_the_production_reviewers(tmp_path: Path) -> None:
    from modelpins import approvals, pins

    text = BAD.replace("PROD_SOURCE", "staging@champion").replace(
        "production: {namespace: ml-production,", 'production: {namespace: ml-production, owners: ["@acme/prod"],'
    )
    (tmp_path / "base.yaml").write_text(text.replace("version: 1\n", "version: 1\nowners: ['@acme/platform']\n"))
    head = text.replace("{promote_from: staging@champion}", '{promote_from: staging@champion, override: "INC-1"}')
    (tmp_path / "head.yaml").write_text(head.replace("version: 1\n", "version: 1\nowners: ['@acme/platform']\n"))

    needed = approvals.requirements(pins.load(tmp_path / "base.yaml"), pins.load(tmp_path / "head.yaml"))

    assert needed["credit in production"] == ("@acme/prod",)
    assert "credit in staging" not in needed
