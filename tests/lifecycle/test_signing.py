"""Signed versions with real model-signing on the real MLflow server: keys and certificates made here.

Key and certificate signing run for real. Keyless Sigstore needs Fulcio, Rekor and an OIDC
token, none of which this machine can reach: the keyless tests check the wiring only (what
`sign` chooses in GitHub Actions, that a failure there writes nothing, and that a keyless
gate refuses a bundle no Sigstore identity made). A real keyless signature is not exercised.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.gates.support import write
from tests.helpers.cli import run
from tests.helpers.keys import certificate, key_pair
from tests.helpers.seed import alias_state, seed_model, unique
from tests.helpers.store import S3File, run_files

PINS = """
version: 1
models:
  {model}:
    aliases:
      champion: {version}
    gates:
      champion:
        - kind: signature
          {who}
"""


def artefact_dir(client, model: str, version: int) -> Path | S3File:
    """Where the test server keeps the run's artefacts, on disk or in the S3 store (to change them behind it)."""
    run_id = client.get_model_version(model, str(version)).run_id
    return run_files(client, run_id)


def signature_tag(client, model: str, version: int) -> dict | None:
    raw = client.get_model_version(model, str(version)).tags.get("modelpins.signature")
    return None if raw is None else json.loads(raw)


def setup(client, tmp_path: Path, who: str, version: int = 2):
    model = unique("signed")
    seed_model(client, model, 3, {"champion": 1})
    pins = write(tmp_path / "model_pins.yaml", PINS.format(model=model, version=version, who=who))
    return model, pins


def test_sign_verify_and_promote(client, mlflow_server, tmp_path):
    private, public = key_pair(tmp_path / "keys", "release")
    model, pins = setup(client, tmp_path, "public_key: keys/release.pub")
    url = mlflow_server.url

    unsigned = run("--pins", pins, "--tracking-uri", url, "gate")
    assert unsigned.returncode == 1
    assert "unsigned: no tag modelpins.signature" in unsigned.stdout + unsigned.stderr

    signed = run("--pins", pins, "--tracking-uri", url, "sign", f"{model}@champion", "--key", private)
    assert signed.returncode == 0, signed.stderr
    tag = signature_tag(client, model, 2)
    assert tag is not None and tag["method"] == "key" and tag["signer"].startswith("key sha256:")
    run_id = client.get_model_version(model, "2").run_id
    assert tag["bundle"] == f"runs:/{run_id}/model.sig"
    # the bundle sits next to the model files, not among them: the version's own artefacts are unchanged
    assert [f.path for f in client.list_artifacts(run_id, "model")] == ["model/weights.json"]
    assert "model.sig" in [f.path for f in client.list_artifacts(run_id)]

    verified = run("--pins", pins, "--tracking-uri", url, "verify", f"{model}@champion")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{model} version 2: signature verified, signed by {tag['signer']}" in verified.stdout

    gated = run("--pins", pins, "--tracking-uri", url, "gate")
    assert gated.returncode == 0, gated.stdout + gated.stderr
    applied = run("--pins", pins, "--tracking-uri", url, "apply", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert alias_state(client, [model])[model]["champion"] == 2

    card = run(
        "--pins", pins, "--tracking-uri", url, "card", f"{model}@champion", "--no-attach", "--out", tmp_path / "c.md"
    )
    assert card.returncode == 0, card.stderr
    assert f"| Signature | signed by {tag['signer']} (key, bundle digest sha256:" in (tmp_path / "c.md").read_text()


def test_one_byte_changed_is_refused_naming_the_file(client, mlflow_server, tmp_path):
    private, _ = key_pair(tmp_path / "keys", "release")
    model, pins = setup(client, tmp_path, "public_key: keys/release.pub")
    url = mlflow_server.url
    assert run("--tracking-uri", url, "sign", f"{model}/2", "--key", private).returncode == 0

    weights = artefact_dir(client, model, 2) / "model" / "weights.json"
    data = bytearray(weights.read_bytes())
    data[-2] ^= 0x01  # one byte, same size
    weights.write_bytes(bytes(data))

    gated = run("--pins", pins, "--tracking-uri", url, "gate")
    assert gated.returncode == 1
    out = gated.stdout + gated.stderr
    assert "artefact files differ from the signature: weights.json" in out
    refused = run("--pins", pins, "--tracking-uri", url, "apply", "--yes")
    assert refused.returncode == 1
    assert alias_state(client, [model])[model]["champion"] == 1

    as_json = run("--pins", pins, "--tracking-uri", url, "verify", f"{model}@champion", "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["verdicts"][0]["files"] == ["weights.json"]


def test_signed_by_another_key_is_refused(client, mlflow_server, tmp_path):
    key_pair(tmp_path / "keys", "release")
    other, other_public = key_pair(tmp_path / "elsewhere", "other")
    model, pins = setup(client, tmp_path, "public_key: keys/release.pub")
    url = mlflow_server.url
    assert run("--tracking-uri", url, "sign", f"{model}/2", "--key", other).returncode == 0

    gated = run("--pins", pins, "--tracking-uri", url, "gate")
    assert gated.returncode == 1
    assert "signed by another key" in gated.stdout + gated.stderr
    # the same bundle does verify against the key that made it
    own = run("--pins", pins, "--tracking-uri", url, "verify", f"{model}/2", "--key", other_public)
    assert own.returncode == 0, own.stdout + own.stderr


def test_missing_bundle_is_refused(client, mlflow_server, tmp_path):
    private, _ = key_pair(tmp_path / "keys", "release")
    model, pins = setup(client, tmp_path, "public_key: keys/release.pub")
    url = mlflow_server.url
    assert run("--tracking-uri", url, "sign", f"{model}/2", "--key", private).returncode == 0
    (artefact_dir(client, model, 2) / "model.sig").unlink()

    verified = run("--pins", pins, "--tracking-uri", url, "verify", f"{model}@champion")
    assert verified.returncode == 1
    assert "signature bundle runs:/" in verified.stdout and "model.sig is missing" in verified.stdout


def test_certificate_signing_chains_to_the_required_ca(client, mlflow_server, tmp_path):
    certs = tmp_path / "certs"
    ca_key, _ = key_pair(certs, "ca")
    ca = certificate(certs / "ca.pem", "modelpins test CA", ca_key)
    leaf_key, _ = key_pair(certs, "leaf")
    leaf = certificate(certs / "leaf.pem", "release signer", leaf_key, ("modelpins test CA", ca_key))
    foreign_key, _ = key_pair(certs, "foreign")
    foreign = certificate(certs / "foreign.pem", "another CA", foreign_key)
    model, pins = setup(client, tmp_path, "certificate_chain: [certs/ca.pem]")
    url = mlflow_server.url

    signed = run("--tracking-uri", url, "sign", f"{model}/2", "--key", leaf_key, "--certificate", leaf, "--chain", ca)
    assert signed.returncode == 0, signed.stderr
    assert signature_tag(client, model, 2)["signer"] == "CN=release signer"  # type: ignore[index]
    assert run("--pins", pins, "--tracking-uri", url, "gate").returncode == 0
    other = run("--tracking-uri", url, "verify", f"{model}/2", "--certificate-chain", foreign)
    assert other.returncode == 1
    assert "signature does not verify against a certificate chained to foreign.pem" in other.stdout


def test_keyless_wiring_offline(client, mlflow_server, tmp_path):
    """What can be shown without Sigstore: see the module docstring for what is not exercised."""
    private, _ = key_pair(tmp_path / "keys", "release")
    identity = "https://github.com/acme/models/.github/workflows/pins-apply.yml@refs/heads/main"
    model, pins = setup(client, tmp_path, f"identity: {identity}")
    url = mlflow_server.url

    outside = run("--tracking-uri", url, "sign", f"{model}/2")  # no key, not in Actions: nothing to sign with
    assert outside.returncode == 2 and "--key PATH" in outside.stderr
    in_actions = run("--tracking-uri", url, "sign", f"{model}/2", env={"GITHUB_ACTIONS": "true"})
    assert in_actions.returncode == 1  # keyless chosen; Sigstore (or an OIDC token) cannot be reached here
    assert f"signing {model} version 2 failed" in in_actions.stderr
    assert signature_tag(client, model, 2) is None
    assert "model.sig" not in [f.path for f in client.list_artifacts(client.get_model_version(model, "2").run_id)]

    assert run("--tracking-uri", url, "sign", f"{model}/2", "--key", private).returncode == 0
    gated = run("--pins", pins, "--tracking-uri", url, "gate")  # a key's bundle is no Sigstore identity's
    assert gated.returncode == 1
    assert f"signed by {identity} (issuer https://token.actions.githubusercontent.com)" in gated.stdout


def test_lock_records_the_signature_digest_and_check_fails_when_it_moves(client, mlflow_server, tmp_path):
    private, _ = key_pair(tmp_path / "keys", "release")
    model, pins = setup(client, tmp_path, "public_key: keys/release.pub")
    url = mlflow_server.url
    assert run("--tracking-uri", url, "sign", f"{model}/2", "--key", private).returncode == 0
    assert run("--pins", pins, "--tracking-uri", url, "lock").returncode == 0
    lock = (tmp_path / "model_pins.lock").read_text()
    digest = signature_tag(client, model, 2)["digest"]  # type: ignore[index]
    assert f'signature: "{digest}"' in lock

    assert run("--pins", pins, "--tracking-uri", url, "lock", "--check").returncode == 0
    assert run("--tracking-uri", url, "sign", f"{model}/2", "--key", private).returncode == 0  # signed again
    moved = run("--pins", pins, "--tracking-uri", url, "lock", "--check")
    assert moved.returncode == 1
    assert f"signature of {model} version 2 no longer matches the lock" in moved.stderr
