"""The demo's signing step: sign the demo models, promote a signed version, refuse a tampered one.

Runs after the promotion flow of devkit.demo, against the same server: a key pair made
here, a pins file in .demo/signed/ whose `support-prompts@champion` is guarded by a
`signature` gate, a new prompt version signed and promoted, and another signed and then
changed by one byte in the artefact store, which its gate refuses, naming the file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(".demo") / "signed"
GATE = """
    gates:
      champion:
        - kind: signature              # who must have signed: the release key
          public_key: keys/release.pub"""


def run(*args: str, env: dict[str, str], expect: int = 0) -> None:
    print(f"$ modelpins {' '.join(args)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "modelpins", *args], env=env).returncode
    if code != expect:
        raise SystemExit(f"demo: 'modelpins {' '.join(args)}' exited {code}, expected {expect}")


def key_pair(directory: Path) -> Path:
    """A P-256 key pair for the demo's release key; the private key's path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / "release.key"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (directory / "release.pub").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private


def new_prompt_version(tracking_uri: str, text: str, accuracy: float) -> tuple[int, Path]:
    """Register a new version of support-prompts from a run (with the `accuracy` its default gates read);
    its number and its file in the artefact store."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("modelpins-seed")
    run_id = client.create_run(experiment.experiment_id if experiment else "0").info.run_id
    client.log_metric(run_id, "accuracy", accuracy)
    client.log_text(run_id, text, "model/system_prompt.txt")
    client.set_terminated(run_id)
    version = int(client.create_model_version("support-prompts", f"runs:/{run_id}/model", run_id=run_id).version)
    return version, Path(urlparse(client.get_run(run_id).info.artifact_uri).path) / "model" / "system_prompt.txt"


def pins_for(champion: int) -> None:
    """The repository's pins file with support-prompts@champion at `champion` behind a signature gate, committed."""
    text = Path("model_pins.yaml").read_text()
    edited = re.sub(r"(support-prompts:.*?champion: )\d+", rf"\g<1>{champion}{GATE}", text, count=1, flags=re.DOTALL)
    (ROOT / "model_pins.yaml").write_text(edited)
    git = ["git", "-C", str(ROOT), "-c", "user.name=demo", "-c", "user.email=demo@modelpins"]
    if not (ROOT / ".git").exists():
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", f"Promote support-prompts@champion to v{champion}"], check=True)


def show(env: dict[str, str]) -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    (ROOT / "scripts").mkdir(parents=True)
    shutil.copytree(Path("scripts") / "gates", ROOT / "scripts" / "gates")
    key = key_pair(ROOT / "keys")
    uri = env["MLFLOW_TRACKING_URI"]
    pins = ("--pins", str(ROOT / "model_pins.yaml"))
    print(f"(a release key pair in {ROOT / 'keys'}; the gate names its public half)")
    good, _ = new_prompt_version(
        uri, "You are a helpful support assistant for Acme. Be brief, accurate and kind.\n", 0.84
    )
    for model, version in (("support-prompts", 2), ("support-prompts", good), ("credit-risk-classifier", 3)):
        run("sign", f"{model}/{version}", "--key", str(key), env=env)

    print(f"\n(a pull request moves support-prompts@champion to the signed v{good}, guarded by a signature gate)")
    pins_for(good)
    run(*pins, "verify", "support-prompts@champion", env=env)
    run(*pins, "gate", env=env)
    run(*pins, "apply", "--yes", env=env)

    bad, stored = new_prompt_version(uri, "You are a helpful support assistant for Acme. Be brief.\n", 0.85)
    run("sign", f"support-prompts/{bad}", "--key", str(key), env=env)
    stored.write_text(stored.read_text().replace("brief", "BRIEF"))  # changed in the store after signing
    print(f"\n(v{bad} was signed, then its system_prompt.txt changed in the artefact store; a PR promotes it)")
    pins_for(bad)
    run(*pins, "gate", "--report", str(ROOT / "gates-tampered.md"), env=env, expect=1)
    print("(exit 1: the signature gate refuses the tampered version and names the file that differs)")
    run(*pins, "apply", "--yes", env=env, expect=1)
    print("(exit 1: apply refused; support-prompts@champion stays on the signed version)")
