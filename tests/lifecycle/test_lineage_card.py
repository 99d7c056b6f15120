"""lineage and card from real runs in the MLflow server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import run
from tests.helpers.seed import seed_model, unique

PINS = """version: 1
models:
  {base}:
    kind: base
    aliases:
      production: 2
  {adapter}:
    kind: adapter
    base: {base}@production
    description: Answers customer support questions in English.
    limitations: Not for legal or medical advice.
    aliases:
      champion: 1
    gates:
      champion:
        - kind: threshold
          metric: safety_score
          min: 0.95
"""


def setup(client, tmp_path):
    base, adapter = unique("base"), unique("lora")
    seed_model(client, base, 2, {"production": 2})
    seed_model(
        client,
        adapter,
        [{"safety_score": 0.973, "accuracy": 0.8125}],
        {"champion": 1},
        params={
            "base_model": base,
            "base_model_version": "1",
            "dataset": "support-tickets-2024q3",
            "dataset_hash": "sha256:5e1f0c",
            "code_commit": "4be1c3d",
            "lora_rank": "16",
        },
    )
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(PINS.format(base=base, adapter=adapter))
    return base, adapter, pins


def test_lineage_prints_the_chain_and_flags_a_base_mismatch(client, mlflow_server, tmp_path):
    base, adapter, pins = setup(client, tmp_path)

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "lineage", f"{adapter}@champion", "--json")

    assert result.returncode == 0, result.stderr
    node = json.loads(result.stdout)["lineage"][0]
    assert node["datasets"] == [{"name": "support-tickets-2024q3", "digest": "sha256:5e1f0c", "source": ""}]
    assert node["code_commit"] == "4be1c3d"
    assert node["run_id"] == client.get_model_version(adapter, "1").run_id
    assert [(p["relation"], p["model"], p["version"]) for p in node["parents"]] == [("base", base, 1)]
    assert (
        f"trained on {base} version 1, but the pins file serves it with {base}@production = version 2"
        in (node["warnings"][0])
    )

    text = run("--pins", pins, "--tracking-uri", mlflow_server.url, "lineage", f"{adapter}@champion")
    assert text.returncode == 0, text.stderr
    assert "  base: " + base + " version 1" in text.stdout
    assert "dataset   support-tickets-2024q3 sha256:5e1f0c" in text.stdout

    missing = run("--pins", pins, "--tracking-uri", mlflow_server.url, "lineage", f"{adapter}@production")
    assert missing.returncode == 2 and "not pinned" in missing.stderr


def test_card_holds_real_metrics_and_is_attached(client, mlflow_server, tmp_path):
    base, adapter, pins = setup(client, tmp_path)
    client.set_model_version_tag(adapter, "1", "modelpins.gates.champion", json.dumps({"result": "passed"}))

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "card", f"{adapter}@champion", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    card = (tmp_path / "cards" / f"{adapter}-v1.md").read_text()
    assert "| safety_score | 0.973 |" in card and "| accuracy | 0.8125 |" in card
    assert "Answers customer support questions in English." in card
    assert "Not for legal or medical advice." in card
    assert "support-tickets-2024q3, digest `sha256:5e1f0c`" in card
    assert "| threshold-safety_score | threshold | safety_score >= 0.95 |" in card
    assert '"result": "passed"' in card
    assert f"base: {base} version 1" in card

    version = client.get_model_version(adapter, "1")
    assert version.tags["modelpins.card"] == f"runs:/{version.run_id}/model_card/{adapter}-v1.md"
    from mlflow.artifacts import download_artifacts

    attached = download_artifacts(
        artifact_uri=version.tags["modelpins.card"], tracking_uri=mlflow_server.url, dst_path=str(tmp_path / "dl")
    )
    assert Path(attached).read_text() == card

    again = run(
        "--pins",
        pins,
        "--tracking-uri",
        mlflow_server.url,
        "card",
        f"{adapter}@champion",
        "--no-attach",
        "--out",
        tmp_path / "again.md",
    )
    assert again.returncode == 0 and (tmp_path / "again.md").read_text() == card  # deterministic


def test_lineage_follows_a_distillation_teacher_without_a_pin(client, mlflow_server, tmp_path):
    teacher, student = unique("teacher"), unique("student")
    seed_model(client, teacher, 2)
    seed_model(client, student, 1, {"champion": 1}, params={"teacher_model": teacher, "teacher_model_version": "2"})
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(f"version: 1\nmodels:\n  {student}:\n    aliases:\n      champion: 1\n")

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "lineage", "--json")

    assert result.returncode == 0, result.stderr
    (node,) = json.loads(result.stdout)["lineage"]
    (parent,) = node["parents"]
    assert (parent["relation"], parent["model"], parent["version"]) == ("teacher", teacher, 2)
    assert parent["run_id"] == client.get_model_version(teacher, "2").run_id
    assert node["warnings"] == [] and node["datasets"] == []
