"""MLflow's model server image, built by `modelpins build` from deploy/Dockerfile.mlflow, run as its pod runs it.

Real parts: the repository's Dockerfile.mlflow, built on a Python base image made from this machine's
own interpreter (see conftest: nothing can be pulled here), whose pip installs mlflow and scikit-learn
for real, from a package mirror on loopback holding the lock's versions (conftest's `wheelhouse`:
wheels pip downloads from PyPI once per lock, kept in pytest's cache), as a site's base image points
pip at its mirror; the real dockerd and registry; a real MLflow server holding a scikit-learn model,
its artefacts served through the server (`mlflow-artifacts:`), as a cluster's pods reach them. The
rendered init container downloads the model and the rendered server container answers a real
POST /invocations, both in the built image, with the pod's user, read-only root filesystem and
writable emptyDirs. The engine has no bridge network here, so the containers use the host's network
(the MLflow server is on loopback) and the server's --port is a free port of this machine, not 8000.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.devserver import DevServer, free_port
from devkit.stores import Profile
from tests.conftest import server_wait
from tests.helpers.cli import run
from tests.helpers.seed import log_sklearn, unique

REPO = Path(__file__).resolve().parents[2]
SLOW = 1800  # seconds: pip installs mlflow in the build, and the vfs storage driver copies each layer


@pytest.fixture(scope="module")
def artifact_server(tmp_path_factory: pytest.TempPathFactory, registry_profile: Profile) -> Iterator[DevServer]:
    """An MLflow server that serves its artefacts (`mlflow-artifacts:/`): the init container, in its own
    filesystem, downloads through it. (The session server's artifact root is a directory on this machine,
    which a container cannot read: its download would be empty, and the init container now says so.)
    On the postgres profile its artefacts are in the S3 store behind the server."""
    server = registry_profile.server(tmp_path_factory.mktemp("mlflow-served"), serve_artifacts=True)
    server.start(server_wait())
    yield server
    server.stop()


def container(client: Any, image: str, pod: dict[str, Any], spec: dict[str, Any], env: dict[str, str], models: Path):
    """Run one rendered container of `pod` as the kubelet would (its user, read-only root, the emptyDirs)."""
    ctx = pod["securityContext"]
    writable = {m["mountPath"]: "" for m in spec["volumeMounts"] if m["name"] in ("tmp", "home", "shm")}
    return client.containers.run(
        image,
        entrypoint=spec["command"],
        command=spec["args"],
        environment={**env, **{e["name"]: e["value"] for e in spec.get("env", [])}},
        user=f"{ctx['runAsUser']}:{ctx['runAsGroup']}",
        read_only=spec["securityContext"]["readOnlyRootFilesystem"],
        cap_drop=["ALL"],
        tmpfs=writable,
        volumes={str(models): {"bind": "/models", "mode": "rw" if spec["name"].startswith("fetch") else "ro"}},
        network_mode="host",
        detach=True,
    )


@pytest.mark.skipif(
    os.environ.get("MODELPINS_CLASSIC_IMAGE_TEST") != "1",
    reason="opt-in (MODELPINS_CLASSIC_IMAGE_TEST=1): a 900 MB image that vfs copies per step and container, ~15 min",
)
@pytest.mark.timeout(SLOW)
def test_build_makes_mlflows_model_server_image_and_it_answers_invocations(
    tmp_path, artifact_server, base_image, python_mirror_base, registry, docker_engine
):
    import docker

    name = unique("scorer")
    model, x = log_sklearn(artifact_server.url, name)
    (tmp_path / "deploy").mkdir()
    for file in ("Dockerfile", "Dockerfile.mlflow"):  # the repository's own, unchanged
        shutil.copy(REPO / "deploy" / file, tmp_path / "deploy" / file)
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(
        f"version: 1\nmodels:\n  {name}:\n    aliases:\n      champion: 1\n"
        f"images:\n  registry: {registry.host}/serving\n  base: {base_image}\n  classic_base: {python_mirror_base}\n"
        f"environments:\n  prod:\n    namespace: ml-prod\n    tracking_uri: {artifact_server.url}\n"
        f"deployments:\n  scoring:\n    environment: prod\n    serve: [{name}@champion]\n"
    )
    env = {"DOCKER_HOST": docker_engine.host}

    built = run("--pins", pins, "--tracking-uri", artifact_server.url, "build", "--push", "--network", "host",
                env=env, timeout=SLOW)  # fmt: skip

    assert built.returncode == 0, built.stderr
    classic = json.loads((tmp_path / "deploy" / "images.lock.json").read_text())["classic"]
    assert classic["basis"] == python_mirror_base
    ref, _, digest = classic["image"].partition("@")
    assert registry.manifest_digest("serving/mlflow-serve", classic["tag"]) == digest

    rendered = run("--pins", pins, "render", "--out", tmp_path / "manifests")
    assert rendered.returncode == 0, rendered.stderr
    obj = yaml.safe_load((tmp_path / "manifests" / "base" / "scoring" / "deployment-scoring.yaml").read_text())
    pod = obj["spec"]["template"]["spec"]
    (fetch,), (server,) = pod["initContainers"], pod["containers"]
    assert fetch["image"] == server["image"] == classic["image"]
    config = yaml.safe_load((tmp_path / "manifests" / "prod" / "configmap-modelpins-mlflow.yaml").read_text())
    client = docker.DockerClient(base_url=docker_engine.host, timeout=SLOW)
    models = tmp_path / "models"
    models.mkdir()
    models.chmod(0o777)  # the emptyDir: writable by the pod's user

    # the image carries the S3 client: its init container and `mlflow models serve` can read s3:// versions
    probe = client.containers.run(ref, entrypoint=["python3", "-c", "import boto3; print(boto3.__version__)"],
                                  remove=True, network_mode="none")  # fmt: skip
    assert probe.decode().strip() == "1.44.18"

    done = container(client, ref, pod, fetch, config["data"], models)
    try:
        assert done.wait(timeout=SLOW)["StatusCode"] == 0, done.logs().decode()[-2000:]
    finally:
        done.remove(force=True)
    port = free_port()  # host networking: the pod's port 8000 may be taken on this machine
    server["args"][server["args"].index("--port") + 1] = str(port)
    serving = container(client, ref, pod, server, {}, models)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                break
            except OSError:
                serving.reload()
                assert serving.status != "exited", serving.logs().decode()[-2000:]
                assert time.monotonic() < deadline, "the image's mlflow models serve did not answer /health"
                time.sleep(1)
        body = json.dumps({"dataframe_split": {"columns": ["0", "1"], "data": x.tolist()}}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            answer = json.load(resp)
        assert answer["predictions"] == model.predict(x).tolist()
    finally:
        serving.remove(force=True)
    assert os.listdir(models / name / "1")  # what the init container downloaded, served read-only
