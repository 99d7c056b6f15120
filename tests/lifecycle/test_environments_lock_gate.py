"""Environment pins in model_pins.lock and under `modelpins gate`, on real MLflow servers."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow import MlflowClient

from modelpins.integrity import artefact_lock
from tests.helpers.cli import run
from tests.helpers.envs import ENV, pins, versions
from tests.helpers.seed import seed_model, unique
from tests.helpers.store import run_files


def test_lock_covers_the_environments_versions_and_check_fails_when_they_move(mlflow_server, tmp_path: Path):
    model = unique("locked")
    url = mlflow_server.url
    client = MlflowClient(url)
    runs = seed_model(client, f"staging.{model}", [{"accuracy": 0.9}, {"accuracy": 0.91}])
    templates = ("staging.{model}", "prod.{model}")
    path = pins(tmp_path / "model_pins.yaml", model, url, url, champion=2, templates=templates)
    assert run("--pins", path, "apply", "--yes", env=ENV).returncode == 0
    (copy,) = versions(client, f"prod.{model}")

    made = run("--pins", path, "--tracking-uri", url, "lock", env=ENV)

    assert made.returncode == 0, made.stderr
    assert "2 versions locked" in made.stdout
    lock = artefact_lock.read(tmp_path / "model_pins.lock")
    assert lock is not None and lock.entries == {}
    staged = lock.environments["staging"][(f"staging.{model}", 2)]
    copied = lock.environments["production"][(f"prod.{model}", int(copy.version))]
    assert (staged.run_id, copied.run_id) == (runs[1], runs[1])
    assert copied.source == f"models:/staging.{model}/2" and copied.digest == staged.digest  # the same files
    assert run("--pins", path, "lock", "--check").returncode == 0
    assert run("--pins", path, "--tracking-uri", url, "lock", "--check").returncode == 0

    pins(path, model, url, url, champion=1, templates=templates)  # staging's pin changed, the lock not
    stale = run("--pins", path, "lock", "--check")
    assert stale.returncode == 1
    assert f"staging.{model} version 1 in staging is pinned but not locked" in stale.stderr
    pins(path, model, url, url, champion=2, templates=templates)

    weights = run_files(client, runs[1]) / "model" / "weights.json"
    weights.write_text(weights.read_text().replace("}", ', "patched": true}'))  # re-uploaded behind the registry

    moved = run("--pins", path, "--tracking-uri", url, "lock", "--check")

    assert moved.returncode == 1, moved.stdout
    assert f"artefacts of prod.{model} version {copy.version} no longer match the lock" in moved.stderr
    assert f"artefacts of staging.{model} version 2 no longer match the lock" in moved.stderr


def test_gate_runs_the_production_gates_on_the_copy_or_its_source(two):
    model, staging, prod, _, path = two

    before = run("--pins", path, "gate", env=ENV)  # the copy is not made yet: gated on staging's v2, nothing written

    assert before.returncode == 0, before.stdout + before.stderr
    assert f"production/{model}@champion" in before.stdout
    assert prod.search_registered_models(f"name = '{model}'") == []

    pins(path, model, staging.tracking_uri, prod.tracking_uri, champion=3, staging_alias="candidate")  # 0.7 < 0.8
    blocked = run("--pins", path, "gate", env=ENV)

    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert f"promotion blocked by failed gates: production/{model}@champion v1" in blocked.stderr

    pins(path, model, staging.tracking_uri, prod.tracking_uri, champion=2)
    assert run("--pins", path, "apply", "--yes", env=ENV).returncode == 0
    (copy,) = versions(prod, model)
    prod.delete_registered_model_alias(model, "champion")
    prod.delete_model_version_tag(model, copy.version, "modelpins.gates.champion")

    recorded = run("--pins", path, "gate", env=ENV)

    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    evidence = json.loads(prod.get_model_version(model, copy.version).tags["modelpins.gates.champion"])
    assert evidence["passed"] is True
    assert len(versions(prod, model)) == 1
