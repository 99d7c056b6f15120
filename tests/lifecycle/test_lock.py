"""model_pins.lock against the real MLflow server: digests, staleness, tampered artefacts refused."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import run
from tests.helpers.seed import alias_state, seed_model, unique
from tests.helpers.store import S3File, behind, run_files
from tests.lifecycle.conftest import pins_text


def weights_file(client, model: str, version: int) -> Path | S3File:
    run_id = client.get_model_version(model, str(version)).run_id
    return run_files(client, run_id) / "model" / "weights.json"


def lock_line(lock: Path, version: int) -> int:
    lines = lock.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(f"    {version}: {{"))


def test_lock_written_checked_and_tampering_refused(repo, client, proxy):
    model = unique("locked")
    seed_model(client, model, 4, {"champion": 2, "challenger": 3})
    repo.commit(pins_text(model, 2), "Pin")
    url = proxy.url

    made = run("--tracking-uri", url, "lock", cwd=repo.root)
    assert made.returncode == 0, made.stderr
    lock = repo.root / "model_pins.lock"
    text = lock.read_text()
    assert 'digest: "sha256:' in text and f'"runs:/{client.get_model_version(model, "2").run_id}/model"' in text
    again = run("--tracking-uri", url, "lock", cwd=repo.root)
    assert "unchanged" in again.stdout and lock.read_text() == text  # deterministic; nothing re-hashed
    assert "0 hashed" in again.stdout
    assert run("lock", "--check", cwd=repo.root).returncode == 0
    assert run("--tracking-uri", url, "validate", cwd=repo.root).returncode == 0

    weights = weights_file(client, model, 2)
    weights.write_text(weights.read_text().replace("}", ', "patched": true}'))  # re-uploaded behind the registry

    refused = run("--tracking-uri", url, "validate", cwd=repo.root)
    assert refused.returncode == 2
    assert f"model_pins.lock:{lock_line(lock, 2)}:" in refused.stderr
    assert f"artefacts of {model} version 2 no longer match the lock" in refused.stderr
    assert "fix:" in refused.stderr

    # apply moving an alias onto the tampered version writes nothing
    client.set_registered_model_alias(model, "champion", "3")
    proxy.reset()
    applied = run("--tracking-uri", url, "apply", "--yes", cwd=repo.root)
    assert applied.returncode == 2, applied.stdout
    assert "no longer match the lock" in applied.stderr
    assert proxy.writes() == []
    assert alias_state(client, [model])[model]["champion"] == 3


def test_lock_check_stale_and_unlocked_target_refused(repo, client, mlflow_server):
    model = unique("stale")
    seed_model(client, model, 4, {"champion": 2, "challenger": 3})
    repo.commit(pins_text(model, 2), "Pin")
    assert run("--tracking-uri", mlflow_server.url, "lock", cwd=repo.root).returncode == 0

    repo.pins.write_text(pins_text(model, 4))  # promoted without re-locking
    check = run("lock", "--check", cwd=repo.root)
    assert check.returncode == 1
    assert f"{model} version 4 is pinned but not locked" in check.stderr
    assert f"{model} version 2 is locked but no longer pinned" in check.stderr

    applied = run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root)
    assert applied.returncode == 2
    assert "not in the lock" in applied.stderr and "modelpins lock" in applied.stderr
    assert alias_state(client, [model])[model]["champion"] == 2

    assert run("--tracking-uri", mlflow_server.url, "lock", cwd=repo.root).returncode == 0
    assert run("lock", "--check", cwd=repo.root).returncode == 0
    assert run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=repo.root).returncode == 0
    assert alias_state(client, [model])[model]["champion"] == 4


def test_size_mode_reads_listing_only(repo, client, proxy):
    model = unique("sizes")
    seed_model(client, model, 3, {"champion": 2, "challenger": 3})
    repo.commit(pins_text(model, 2), "Pin")
    assert run("--tracking-uri", proxy.url, "lock", cwd=repo.root).returncode == 0
    weights = weights_file(client, model, 3)
    weights.write_text(weights.read_text() + " ")

    proxy.reset()
    result = run("--tracking-uri", proxy.url, "validate", cwd=repo.root, env={"MODELPINS_LOCK_VERIFY": "size"})

    assert result.returncode == 2
    assert f"artefacts of {model} version 3 no longer match" in result.stderr
    assert not any(path == "/get-artifact" for _, path in proxy.log)


def test_logged_model_source_is_locked_and_checked(repo, client, mlflow_server, tmp_path):
    """MLflow 3 registers versions from logged models (source models:/m-...); their files are hashed too."""
    model = unique("logged")
    exp_id = client.create_experiment(unique("logged-models"))
    client.create_registered_model(model)
    local = tmp_path / "weights"
    local.mkdir()
    (local / "config.json").write_text('{"layers": 2}')
    (local / "sub").mkdir()
    (local / "sub" / "shard-0.bin").write_bytes(b"\x00\x01" * 500)
    logged = client.create_logged_model(exp_id, name="lm")
    client.log_model_artifacts(logged.model_id, str(local))
    client.create_model_version(model, f"models:/{logged.model_id}", model_id=logged.model_id)
    client.set_registered_model_alias(model, "champion", "1")
    repo.commit(f"version: 1\nmodels:\n  {model}:\n    aliases:\n      champion: 1\n", "Pin")

    made = run("--tracking-uri", mlflow_server.url, "lock", cwd=repo.root)
    assert made.returncode == 0, made.stderr
    lock = (repo.root / "model_pins.lock").read_text()
    assert f'source: "models:/{logged.model_id}"' in lock and "files: 2, bytes: 1013" in lock
    assert run("--tracking-uri", mlflow_server.url, "validate", cwd=repo.root).returncode == 0

    shard = (
        behind(client.tracking_uri, client.get_logged_model(logged.model_id).artifact_location) / "sub" / "shard-0.bin"
    )
    shard.write_bytes(b"\x00\x02" * 500)  # same size, other bytes
    refused = run("--tracking-uri", mlflow_server.url, "validate", cwd=repo.root)
    assert refused.returncode == 2 and "no longer match the lock" in refused.stderr


def test_a_hand_edited_lock_is_reported_with_its_line(tmp_path):
    from modelpins.errors import InvalidPins
    from modelpins.integrity import artefact_lock as lock

    text = 'version: 1\nmodels:\n  "m":\n    2: {run_id: "r", source: "runs:/r/model", digest: "sha256:x", files: 1}\n'
    try:
        lock.loads(text, "model_pins.lock")
    except InvalidPins as exc:
        assert str(exc.problems[0]).startswith("model_pins.lock:4: entry needs run_id, source, digest, files, bytes")
    else:
        raise AssertionError("a lock entry without 'bytes' was accepted")
