"""MLflow's model server images, built by `modelpins build` from deploy/Dockerfile.mlflow, run as their pods run them.

One pins file serves one scikit-learn model twice: deployment `scoring` downloads it at pod start
(`artifacts: init`, on the shared MLflow model server image), deployment `baked` has it baked into its
own image (`artifacts: image`). One `build --push` makes both from deploy/Dockerfile.mlflow on
`images.classic_base`, so the pip layer is built once and the baked image adds the model on top.

Real parts: the repository's Dockerfiles, Dockerfile.mlflow built on a Python base image made from this
machine's own interpreter (see conftest: nothing can be pulled here), whose pip installs mlflow and
scikit-learn for real, from a package mirror on loopback holding the lock's versions (conftest's
`wheelhouse`: wheels pip downloads from PyPI once per lock, kept in pytest's cache), as a site's base
image points pip at its mirror; the real dockerd and registry; a real MLflow server holding the model,
its artefacts served through the server (`mlflow-artifacts:`), as a cluster's pods reach them (on the
postgres profile, kept in the S3-compatible store behind it). For `scoring`, the rendered init container
downloads the model and the rendered server container answers a real POST /invocations; for `baked`,
the rendered server container alone (no init container, no models volume) answers it from the model in
its image. Each runs with its pod's user, read-only root filesystem and writable emptyDirs. The engine
has no bridge network here, so the containers use the host's network (the MLflow server is on loopback)
and the server's --port is a free port of this machine, not 8000.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
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
SLOW = 3600  # seconds: two builds where pip installs mlflow, and the vfs storage driver copies each layer

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("MODELPINS_CLASSIC_IMAGE_TEST") != "1",
        reason="opt-in (MODELPINS_CLASSIC_IMAGE_TEST=1): 900 MB images that vfs copies per layer, 10 to 30+ min",
    ),
    pytest.mark.timeout(SLOW),
]


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


@dataclass
class Built:
    root: Path  # the project: model_pins.yaml, deploy/, manifests/
    name: str  # the registered model
    model: Any  # the scikit-learn model logged as version 1
    x: Any  # rows to predict
    lock: dict[str, Any]  # deploy/images.lock.json
    client: Any  # docker SDK client of the test engine

    def pod(self, deployment: str) -> dict[str, Any]:
        path = self.root / "manifests" / "base" / deployment / f"deployment-{deployment}.yaml"
        return yaml.safe_load(path.read_text())["spec"]["template"]["spec"]

    def config(self) -> dict[str, str]:
        path = self.root / "manifests" / "prod" / "configmap-modelpins-mlflow.yaml"
        return yaml.safe_load(path.read_text())["data"]


@pytest.fixture(scope="module")
def built(tmp_path_factory, artifact_server, base_image, python_mirror_base, registry, docker_engine) -> Built:
    """One `build --push` and `render` of a pins file that serves the model downloaded at start and baked in."""
    import docker

    root = tmp_path_factory.mktemp("classic-project")
    name = unique("scorer")
    model, x = log_sklearn(artifact_server.url, name)
    (root / "deploy").mkdir()
    for file in ("Dockerfile", "Dockerfile.mlflow"):  # the repository's own, unchanged
        shutil.copy(REPO / "deploy" / file, root / "deploy" / file)
    pins = root / "model_pins.yaml"
    pins.write_text(
        f"version: 1\nmodels:\n  {name}:\n    aliases:\n      champion: 1\n"
        f"images:\n  registry: {registry.host}/serving\n  base: {base_image}\n  classic_base: {python_mirror_base}\n"
        f"environments:\n  prod:\n    namespace: ml-prod\n    tracking_uri: {artifact_server.url}\n"
        f"deployments:\n  scoring:\n    environment: prod\n    serve: [{name}@champion]\n"
        f"  baked:\n    environment: prod\n    artifacts: image\n    serve: [{name}@champion]\n"
    )
    env = {"DOCKER_HOST": docker_engine.host}

    result = run("--pins", pins, "--tracking-uri", artifact_server.url, "build", "--push", "--network", "host",
                 env=env, timeout=SLOW)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rendered = run("--pins", pins, "render", "--out", root / "manifests")
    assert rendered.returncode == 0, rendered.stderr
    lock = json.loads((root / "deploy" / "images.lock.json").read_text())
    client = docker.DockerClient(base_url=docker_engine.host, timeout=SLOW)
    return Built(root, name, model, x, lock, client)


def container(client: Any, image: str, pod: dict[str, Any], spec: dict[str, Any], env: dict[str, str], models: Path):
    """Run one rendered container of `pod` as the kubelet would (its user, read-only root, the emptyDirs, and
    the models emptyDir where the container mounts one)."""
    ctx = pod["securityContext"]
    mounts = {m["name"]: m for m in spec["volumeMounts"]}
    writable = {m["mountPath"]: "" for n, m in mounts.items() if n in ("tmp", "home", "shm")}
    volumes = {}
    if "models" in mounts:
        mode = "ro" if mounts["models"].get("readOnly") else "rw"
        volumes[str(models)] = {"bind": mounts["models"]["mountPath"], "mode": mode}
    return client.containers.run(
        image,
        entrypoint=spec["command"],
        command=spec["args"],
        environment={**env, **{e["name"]: e["value"] for e in spec.get("env", [])}},
        user=f"{ctx['runAsUser']}:{ctx['runAsGroup']}",
        read_only=spec["securityContext"]["readOnlyRootFilesystem"],
        cap_drop=["ALL"],
        tmpfs=writable,
        volumes=volumes,
        network_mode="host",
        detach=True,
    )


def predictions(client: Any, image: str, pod: dict[str, Any], server: dict[str, Any], rows: Any, models: Path):
    """Start the rendered server container on a free port and POST `rows` to its /invocations."""
    port = free_port()  # host networking: the pod's port 8000 may be taken on this machine
    args = list(server["args"])
    args[args.index("--port") + 1] = str(port)
    serving = container(client, image, pod, {**server, "args": args}, {}, models)
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
        body = json.dumps({"dataframe_split": {"columns": ["0", "1"], "data": rows.tolist()}}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)["predictions"]
    finally:
        serving.remove(force=True)


def test_build_makes_mlflows_model_server_image_and_it_answers_invocations(
    built: Built, python_mirror_base: str, registry, tmp_path: Path
) -> None:
    classic = built.lock["classic"]
    assert classic["basis"] == python_mirror_base
    ref, _, digest = classic["image"].partition("@")
    assert registry.manifest_digest("serving/mlflow-serve", classic["tag"]) == digest
    pod = built.pod("scoring")
    (fetch,), (server,) = pod["initContainers"], pod["containers"]
    assert fetch["image"] == server["image"] == classic["image"]
    models = tmp_path / "models"
    models.mkdir()
    models.chmod(0o777)  # the emptyDir: writable by the pod's user

    # the image carries the S3 client: its init container and `mlflow models serve` can read s3:// versions
    probe = built.client.containers.run(ref, entrypoint=["python3", "-c", "import boto3; print(boto3.__version__)"],
                                        remove=True, network_mode="none")  # fmt: skip
    assert probe.decode().strip() == "1.44.18"

    done = container(built.client, ref, pod, fetch, built.config(), models)
    try:
        assert done.wait(timeout=SLOW)["StatusCode"] == 0, done.logs().decode()[-2000:]
    finally:
        done.remove(force=True)

    assert predictions(built.client, ref, pod, server, built.x, models) == built.model.predict(built.x).tolist()
    assert os.listdir(models / built.name / "1")  # what the init container downloaded, served read-only


def test_a_baked_classic_image_is_mlflows_model_server_with_the_model_and_answers_invocations(
    built: Built, python_mirror_base: str, registry, tmp_path: Path
) -> None:
    entry = built.lock["images"]["baked/stable"]
    ref, _, digest = entry["image"].partition("@")
    assert registry.manifest_digest("serving/baked", ref.rpartition(":")[2]) == digest
    pod = built.pod("baked")
    (server,) = pod["containers"]
    assert "initContainers" not in pod and "models" not in {v["name"] for v in pod["volumes"]}
    assert server["image"] == entry["image"]
    assert server["args"][:2] == ["-m", f"/models/{built.name}/1"]

    # built from deploy/Dockerfile.mlflow on images.classic_base, as `docker inspect` shows: it says so, and it
    # is MLflow's model server image (the same layers, pip's install built once) plus a layer with the model
    image = built.client.images.get(ref)
    assert image.labels["org.opencontainers.image.base.name"] == python_mirror_base
    assert image.attrs["Config"]["Entrypoint"] == ["mlflow", "models", "serve"]
    shared = built.client.images.get(built.lock["classic"]["image"].partition("@")[0]).attrs["RootFS"]["Layers"]
    layers = image.attrs["RootFS"]["Layers"]
    assert layers[: len(shared) - 1] == shared[:-1] and len(layers) == len(shared)  # the last: models/
    found = built.client.containers.run(ref, entrypoint=["python3", "-c", "import importlib.util as u, mlflow; "
                                        "print(mlflow.__version__, u.find_spec('vllm') is None)"],
                                        remove=True, network_mode="none")  # fmt: skip
    assert found.decode().split() == ["3.17.2", "True"]

    # no init container and no models volume: the pod's one container serves the model baked into its image
    assert predictions(built.client, ref, pod, server, built.x, tmp_path) == built.model.predict(built.x).tolist()
