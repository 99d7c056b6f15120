"""Artefacts in an S3-compatible store (moto's S3 server), read by every path of modelpins that reads artefacts.

Two ways a version's files sit in object storage, both here:
- logged through the server (`runs:/...`; the server keeps them in its bucket with --serve-artifacts): modelpins
  reads them over the server's REST routes, and the pod's init container downloads them through the server;
- registered straight from the store (`s3://bucket/...`, as a training job that writes to S3 registers them):
  modelpins and the init container read the bucket themselves, with the store's credentials.

The paths: the lock's digests (`lock`, and `validate` re-hashing them), `sign`/`verify`, the image build's
download (modelpins.serving.images.mlflow_fetch) and the rendered init container, run as the pod runs it (its
command and args, and only the environment its envFrom gives it: the ConfigMap render writes and the Secret an
operator creates). These run on the postgres profile (MODELPINS_TEST_BACKEND=postgres: `make test` runs them
there); on sqlite they are skipped, its artefacts being on local disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.stores import Profile
from modelpins.integrity.digest import local_digest
from modelpins.serving.images import mlflow_fetch
from modelpins.serving.tracks import MODELS_DIR
from tests.helpers.cli import run
from tests.helpers.keys import key_pair
from tests.helpers.seed import seed_model, unique
from tests.helpers.store import run_files

REPO = Path(__file__).resolve().parents[2]
MLMODEL = yaml.safe_dump({"flavors": {"python_function": {"loader_module": "mlflow.sklearn"}}})
FILES = {"MLmodel": MLMODEL, "model.pkl": "weights " * 100, "nested/config.json": '{"layers": 2}'}


@pytest.fixture(scope="module")
def s3(registry_profile: Profile, mlflow_server) -> Profile:
    if registry_profile.name != "postgres" or registry_profile.s3 is None:
        pytest.skip("artefacts in S3: the postgres profile (MODELPINS_TEST_BACKEND=postgres, run by make test)")
    return registry_profile


@pytest.fixture(scope="module")
def direct(s3: Profile, client, tmp_path_factory) -> dict[str, Any]:
    """A version registered from `s3://` files a job uploaded to a bucket of its own, and their local copy."""
    assert s3.s3 is not None
    local = tmp_path_factory.mktemp("direct") / "model"
    for rel, text in FILES.items():
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
        (local / rel).write_text(text)
    bucket = s3.s3.bucket(f"training-{os.getpid()}")
    store = s3.s3.client()
    for rel in FILES:
        store.upload_file(str(local / rel), bucket.removeprefix("s3://"), f"jobs/scorer/{rel}")
    name = unique("s3direct")
    client.create_registered_model(name)
    client.create_model_version(name, f"{bucket}/jobs/scorer")
    client.set_registered_model_alias(name, "champion", "1")
    return {"name": name, "local": local, "bucket": bucket.removeprefix("s3://"), "store": store}


def write_pins(path: Path, model: str, uri: str, serve: bool = False) -> Path:
    text = f"version: 1\nmodels:\n  {model}:\n    aliases: {{champion: 1}}\n"
    if serve:
        d = "1" * 64
        text += (
            f"images:\n  registry: registry.example/serving\n  base: vllm/vllm-openai@sha256:{d}\n"
            f"  classic: registry.example/serving/mlflow-serve@sha256:{d}\n"
            "environments:\n  prod:\n    namespace: ml-prod\n    gateway: gateways/public\n"
            f"    hostnames: [models.example]\n    tracking_uri: {uri}\n"
            f"deployments:\n  scoring:\n    environment: prod\n    serve: [{model}@champion]\n"
        )
    path.write_text(text)
    return path


def locked_digest(lock: Path, model: str) -> str:
    return str(yaml.safe_load(lock.read_text())["models"][model][1]["digest"])


def test_a_version_registered_from_s3_is_locked_with_its_files_digest_and_a_change_is_refused(
    direct, mlflow_server, tmp_path
) -> None:
    pins = write_pins(tmp_path / "model_pins.yaml", direct["name"], mlflow_server.url)

    made = run("--pins", pins, "--tracking-uri", mlflow_server.url, "lock")

    assert made.returncode == 0, made.stderr
    assert locked_digest(tmp_path / "model_pins.lock", direct["name"]) == local_digest(direct["local"]).digest
    assert run("--pins", pins, "--tracking-uri", mlflow_server.url, "validate").returncode == 0

    direct["store"].put_object(Bucket=direct["bucket"], Key="jobs/scorer/model.pkl", Body=b"other weights")
    try:
        refused = run("--pins", pins, "--tracking-uri", mlflow_server.url, "validate")
    finally:
        direct["store"].upload_file(str(direct["local"] / "model.pkl"), direct["bucket"], "jobs/scorer/model.pkl")

    assert refused.returncode == 2
    assert f"artefacts of {direct['name']} version 1 no longer match the lock" in refused.stderr


def test_a_logged_version_kept_in_the_servers_bucket_is_locked_signed_and_verified(s3, client, mlflow_server, tmp_path):
    name = unique("s3logged")
    seed_model(client, name, 1, {"champion": 1}, files={"weights.json": '{"w": 1}'})
    files = run_files(client, client.get_model_version(name, "1").run_id)
    assert files.__class__.__name__ == "S3File"  # the files are objects in the bucket, not on this disk
    pins = write_pins(tmp_path / "model_pins.yaml", name, mlflow_server.url)
    url = mlflow_server.url
    private, public = key_pair(tmp_path / "keys", "release")

    assert run("--pins", pins, "--tracking-uri", url, "lock").returncode == 0
    signed = run("--pins", pins, "--tracking-uri", url, "sign", f"{name}@champion", "--key", private)
    assert signed.returncode == 0, signed.stderr
    verified = run("--pins", pins, "--tracking-uri", url, "verify", f"{name}@champion", "--key", public)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{name} version 1: signature verified" in verified.stdout

    (files / "model" / "weights.json").write_text('{"w": 2}')  # re-uploaded to the bucket behind the registry
    tampered = run("--pins", pins, "--tracking-uri", url, "verify", f"{name}@champion", "--key", public)
    assert tampered.returncode == 1
    assert "weights.json" in tampered.stdout + tampered.stderr


def test_the_image_builds_download_reads_a_version_from_s3(direct, mlflow_server, tmp_path) -> None:
    dest = tmp_path / "fetched"

    mlflow_fetch(mlflow_server.url)(direct["name"], 1, dest)

    assert local_digest(dest).digest == local_digest(direct["local"]).digest


def pod_env(init: dict[str, Any], objects: dict[tuple[str, str], dict[str, str]]) -> dict[str, str]:
    """The environment the kubelet gives the container: its envFrom sources (ConfigMaps, Secrets), then env."""
    env: dict[str, str] = {}
    for source in init.get("envFrom", []):
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        ref = source["configMapRef"] if kind == "ConfigMap" else source["secretRef"]
        found = objects.get((kind, ref["name"]))
        assert found is not None or ref.get("optional"), f"{kind} {ref['name']} is missing and not optional"
        env.update(found or {})
    env.update({e["name"]: e["value"] for e in init.get("env", [])})
    return env


def run_init(init: dict[str, Any], env: dict[str, str], models: Path) -> subprocess.CompletedProcess[str]:
    """The init container's command and args, /models mapped to `models`, with only `env` (and a PATH whose
    python3 is this venv's, standing in for the image's)."""
    argv = [a.replace(MODELS_DIR, str(models)) for a in init["command"] + init["args"]]
    path = f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin"
    home = models.parent / "home"
    home.mkdir(exist_ok=True)
    full = {**env, "PATH": path, "HOME": str(home)}
    return subprocess.run(argv, env=full, capture_output=True, text=True, timeout=300)


def rendered(tmp_path: Path, model: str, uri: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The scoring deployment's first init container and the ConfigMap modelpins-mlflow, as render writes them."""
    pins = write_pins(tmp_path / "model_pins.yaml", model, uri, serve=True)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "Dockerfile").write_bytes((REPO / "deploy" / "Dockerfile").read_bytes())
    done = run("--pins", pins, "--tracking-uri", uri, "render", "--out", tmp_path / "manifests")
    assert done.returncode == 0, done.stderr
    deployment = yaml.safe_load((tmp_path / "manifests/base/scoring/deployment-scoring.yaml").read_text())
    config = yaml.safe_load((tmp_path / "manifests/prod/configmap-modelpins-mlflow.yaml").read_text())
    return deployment["spec"]["template"]["spec"]["initContainers"][0], config["data"]


def test_the_init_container_downloads_from_s3_with_the_secrets_credentials(direct, s3, mlflow_server, tmp_path):
    init, config = rendered(tmp_path, direct["name"], mlflow_server.url)
    assert {"secretRef": {"name": "modelpins-mlflow", "optional": True}} in init["envFrom"]
    secret = dict(s3.env)  # what an operator puts in Secret modelpins-mlflow: the store's endpoint and keys
    objects = {("ConfigMap", "modelpins-mlflow"): config, ("Secret", "modelpins-mlflow"): secret}

    fetched = run_init(init, pod_env(init, objects), tmp_path / "models")

    assert fetched.returncode == 0, fetched.stderr
    got = tmp_path / "models" / direct["name"] / "1"
    (got / "registered_model_meta").unlink()  # MLflow adds it to every models:/ download
    assert local_digest(got).digest == local_digest(direct["local"]).digest

    # without the Secret the pod cannot read the bucket, and its init container fails (the server never starts)
    no_secret = run_init(init, pod_env(init, {("ConfigMap", "modelpins-mlflow"): config}), tmp_path / "models2")
    assert no_secret.returncode != 0
    assert "Unable to locate credentials" in no_secret.stderr


def test_the_init_container_downloads_a_logged_version_through_the_server_without_credentials(
    s3, client, mlflow_server, tmp_path
) -> None:
    """Served artefacts (--serve-artifacts): the pod needs only the tracking URI; the server reads the bucket."""
    name = unique("s3served")
    seed_model(client, name, 1, {"champion": 1}, files={"MLmodel": MLMODEL, "model.pkl": "served"})
    init, config = rendered(tmp_path, name, mlflow_server.url)

    fetched = run_init(init, pod_env(init, {("ConfigMap", "modelpins-mlflow"): config}), tmp_path / "models")

    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "models" / name / "1" / "model.pkl").read_text() == "served"
