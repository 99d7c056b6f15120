"""Copies traced back to their source on real MLflow servers (drift, history, lineage), and the soak time read
from the pins file's git history (a real repository whose commits carry controlled dates)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from modelpins.audit.records import audit_key
from modelpins.tags import COPY_SOURCE_TAG
from tests.helpers.cli import run
from tests.helpers.envs import ENV, line_of, pins, register, versions
from tests.helpers.seed import unique
from tests.lifecycle.conftest import Repo


def drifted(path: Path) -> list[dict]:
    result = run("--pins", path, "drift", "--json", env=ENV)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)["environments"]


def test_drift_follows_the_copy_a_forged_copy_and_a_hand_moved_alias_are_reported(two):
    model, staging, prod, runs, path = two
    assert run("--pins", path, "apply", "--yes", env=ENV).returncode == 0
    (copy,) = versions(prod, model)
    clean = run("--pins", path, "drift", env=ENV)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "No drift in the environments' registries" in clean.stdout

    # a version registered by hand from v3's run, tagged as if it were the copy of staging's v2
    forged_tag = json.dumps({"registry": staging.tracking_uri, "model": model, "version": 2}, sort_keys=True)
    forged = prod.create_model_version(
        model, f"s3://acme-models/{model}/3", run_id=runs[2], tags={COPY_SOURCE_TAG: forged_tag}
    )
    prod.set_registered_model_alias(model, "champion", forged.version)

    result = run("--pins", path, "drift", env=ENV)

    assert result.returncode == 1, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("production"))
    assert f"copy of {model} v2 (staging) = v{copy.version}" in row
    assert f"tampered: v{forged.version} is tagged a copy of {model} v2, but its run or files are another" in row
    # apply does not take the forged version for the copy: it moves the alias back to the real one
    assert run("--pins", path, "apply", "--yes", env=ENV).returncode == 0
    assert prod.get_registered_model(model).aliases == {"champion": copy.version}
    assert len(versions(prod, model)) == 2  # no new copy either

    by_hand = prod.create_model_version(model, f"s3://acme-models/{model}/elsewhere")  # no provenance at all
    prod.set_registered_model_alias(model, "champion", by_hand.version)
    staging.set_registered_model_alias(model, "champion", "3")  # and staging's alias moved by hand too

    found = {d["environment"]: d for d in drifted(path)}

    assert found["production"]["actual"] == int(by_hand.version)
    assert found["production"]["kind"] == f"moved: v{by_hand.version} is not a copy (no provenance tag)"
    assert (found["staging"]["expected"], found["staging"]["actual"], found["staging"]["kind"]) == ("2", 3, "moved")


def test_drift_names_a_copy_whose_provenance_tag_was_edited(two):
    model, _, prod, _, path = two
    assert run("--pins", path, "apply", "--yes", env=ENV).returncode == 0
    (copy,) = versions(prod, model)
    prod.set_model_version_tag(model, copy.version, COPY_SOURCE_TAG, "{}")

    (found,) = drifted(path)

    assert found["environment"] == "production" and found["actual"] == int(copy.version)
    assert found["kind"].startswith(f"provenance changed: v{copy.version} carries {model} v2 (staging)'s run")


def test_history_of_a_production_pin_shows_the_copy_and_the_soak_override(two):
    model, staging, prod, _, path = two
    pins(path, model, staging.tracking_uri, prod.tracking_uri, champion=2, soak="24h", override="INC-7 hotfix")
    assert run("--pins", path, "apply", "--yes", env=ENV).returncode == 0

    shown = run("--pins", path, "history", "--environment", "production", f"{model}@champion", env=ENV)

    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if f"{model}@champion" in line)
    assert f"(copy of {model} v2 in staging)" in row and "(soak override: INC-7 hotfix)" in row


def test_lineage_by_the_production_model_name_shows_the_copy_then_the_staging_version_then_its_run(
    mlflow_server, tmp_path: Path
):
    model = unique("risk")
    client = MlflowClient(mlflow_server.url)
    runs = register(client, f"staging.{model}", [0.9, 0.91])
    url, templates = mlflow_server.url, ("staging.{model}", "prod.{model}")
    path = pins(tmp_path / "model_pins.yaml", model, url, url, champion=2, templates=templates)
    assert run("--pins", path, "apply", "--yes", env=ENV).returncode == 0

    chain = run("--pins", path, "lineage", f"prod.{model}@champion")

    assert chain.returncode == 0, chain.stderr
    lines = chain.stdout.splitlines()
    assert lines[0] == f"prod.{model} version 1"
    source = next(i for i, line in enumerate(lines) if line.strip().startswith("copy of:"))
    assert lines[source].strip() == f"copy of: staging.{model} version 2"
    assert lines[1].split()[1] == runs[1] and lines[source + 1].split()[1] == runs[1]


def _ago(hours: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - hours * 3600))


@pytest.mark.parametrize(
    ("merged", "audited", "refused"),
    [
        ((30, 2), None, True),  # set by hand in staging (no audit tag): the merge of v2's pin line 2 h ago
        ((2,), 30, True),  # an audit record 30 h old, but the pin line was merged 2 h ago: the later counts
        ((30,), None, False),  # no audit tag; git says 30 h and staging holds it: allowed
    ],
)
def test_soak_evidence_from_git_history(mlflow_server, prod_server, repo: Repo, merged, audited, refused):
    model = unique("credit")
    staging, prod = MlflowClient(mlflow_server.url), MlflowClient(prod_server.url)
    register(staging, model, [0.86, 0.9, 0.7])
    versions_merged = (1, 2)[-len(merged) :]
    for version, hours in zip(versions_merged, merged, strict=True):
        pins(repo.pins, model, staging.tracking_uri, prod.tracking_uri, champion=version, soak="24h")
        repo.commit(repo.pins.read_text(), f"staging: champion v{version}", at=_ago(hours))
    staging.set_registered_model_alias(model, "champion", "2")
    if audited:
        at = time.time() - audited * 3600
        record = {"action": "set", "alias": "champion", "from": None, "to": 2, "actor": "ci-bot"}
        record["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        staging.set_model_version_tag(model, "2", audit_key("champion", at), json.dumps(record))

    result = run("--pins", repo.pins, "apply", "--yes", env=ENV)

    if not refused:
        assert result.returncode == 0, result.stderr
        assert prod.get_registered_model(model).aliases == {"champion": "1"}
        return
    assert result.returncode == 1, result.stderr
    line = line_of(repo.pins, "promote_from")
    assert f"{repo.pins}:{line}: {model}@champion in production promotes version 2 of staging@champion" in result.stderr
    assert "which it has held since" in result.stderr and "(2h 00m)" in result.stderr
    assert "22h 00m left" in result.stderr or "21h 59m left" in result.stderr
    assert prod.search_registered_models(f"name = '{model}'") == []
