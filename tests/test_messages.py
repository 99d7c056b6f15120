"""The exact words a person reads on the second day: counts, "did you mean", digests as hex, no line 1 for nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.cli import run
from tests.helpers.seed import write_pins

MODELS = {"credit-risk-classifier": {"champion": 2, "challenger": 3}, "fraud": {"champion": 1}}


@pytest.fixture
def repo(workdir: Path) -> Path:
    write_pins(workdir / "model_pins.yaml", MODELS)
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "pins"],
    ):
        subprocess.run(["git", *args], cwd=workdir, check=True)
    return workdir


def test_counts_agree_with_their_nouns(workdir: Path) -> None:
    write_pins(workdir / "model_pins.yaml", {"m": {"champion": 1}})
    result = run("validate", "--offline", cwd=workdir)
    assert result.stdout.strip() == "model_pins.yaml: valid (1 pin across 1 model; registry not checked)"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["lineage", "credit-risk-clasifier@champion"], "did you mean 'credit-risk-classifier@champion'?"),
        (["card", "credit-risk-clasifier@champion"], "did you mean 'credit-risk-classifier@champion'?"),
        (["verify", "credit-risk-clasifier@champion"], "did you mean 'credit-risk-classifier@champion'?"),
        (["rollback", "credit-risk-clasifier@champion", "--to", "1"], "did you mean 'credit-risk-classifier'?"),
        (["history", "credit-risk-clasifier", "--offline"], "did you mean 'credit-risk-classifier'?"),
    ],
)
def test_a_misspelled_model_gets_a_did_you_mean(repo: Path, args: list[str], said: str) -> None:
    result = run(*args, cwd=repo, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})  # checked before any request
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr
    assert "credit-risk-clasifier" in result.stderr


def test_a_misspelled_gate_kind_gets_a_did_you_mean(workdir: Path) -> None:
    write_pins(
        workdir / "model_pins.yaml",
        {"m": {"champion": 1}},
        extra="    gates:\n      champion:\n        - kind: treshold\n          metric: auc\n          min: 0.8\n",
    )
    result = run("validate", "--offline", cwd=workdir)
    assert result.returncode == 2
    assert "model_pins.yaml:8: gate kind 'treshold' is not one of:" in result.stderr
    assert "fix: did you mean 'threshold'?" in result.stderr


def test_a_signature_mismatch_names_the_file_and_both_hex_digests(tmp_path: Path) -> None:
    import hashlib

    import model_signing
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from modelpins.integrity.signing import readable

    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "pub.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"signed weights")
    model_signing.signing.Config().use_elliptic_key_signer(private_key=tmp_path / "key.pem").sign(
        model, tmp_path / "bundle.sig"
    )
    (model / "weights.bin").write_bytes(b"tampered weights")
    with pytest.raises(ValueError) as caught:
        model_signing.verifying.Config().use_elliptic_key_verifier(public_key=tmp_path / "pub.pem").verify(
            model, tmp_path / "bundle.sig"
        )

    text = readable(f"{type(caught.value).__name__}: {caught.value}")

    expected = hashlib.sha256(b"signed weights").hexdigest()
    actual = hashlib.sha256(b"tampered weights").hexdigest()
    assert text == f"ValueError: Signature mismatch: weights.bin: expected sha256:{expected}, got sha256:{actual}"
