"""`modelpins build` against a real dockerd and a real registry on loopback, with models from a real MLflow server.

The base image is the locally made stand-in (see conftest); what these tests prove is the
build pipeline (artefacts fetched, baked, labelled, content-addressed, pushed, recorded,
skipped when unchanged), not that vLLM starts: that needs a GPU and vLLM's real image.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.helpers.cli import run
from tests.helpers.keys import key_pair
from tests.helpers.seed import seed_model, unique
from tests.helpers.store import run_files

REPO = Path(__file__).resolve().parents[2]
MLMODEL = "flavors:\n  python_function: {loader_module: mlflow.pyfunc.model}\n"


def project(
    tmp_path: Path, base: str, registry: str, deployments: str, models: str, classic_base: str | None = None
) -> Path:
    (tmp_path / "deploy").mkdir()
    for name in ("Dockerfile", "Dockerfile.mlflow"):
        shutil.copy(REPO / "deploy" / name, tmp_path / "deploy" / name)
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(
        f"version: 1\nmodels:\n{models}"
        f"images:\n  registry: {registry}/serving\n  base: {base}\n  classic_base: {classic_base or base}\n"
        "environments:\n  prod:\n    namespace: ml-prod\n    tracking_uri: http://mlflow.ml-prod:5000\n"
        f"deployments:\n{deployments}"
    )
    return pins


def files_in(image: str, path: str, docker_engine) -> dict[str, str]:
    """The files under `path` inside `image`, read from a created (never started) container."""
    client = docker_engine.client()
    container = client.containers.create(image, command=["true"])
    try:
        stream, _ = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    finally:
        container.remove()


@pytest.fixture(scope="module")
def classic_base(base_image, registry, docker_engine) -> str:
    """images.classic_base: the stand-in base under another name, so an image tells which of the two it is on."""
    engine = docker_engine.client()
    engine.images.get(base_image).tag(f"{registry.host}/classic-base", "test")
    engine.images.push(f"{registry.host}/classic-base", tag="test")
    return f"{registry.host}/classic-base@{registry.manifest_digest('classic-base', 'test')}"


@pytest.fixture
def baked(tmp_path, client, mlflow_server, base_image, classic_base, registry, docker_engine):
    model = unique("baked")
    files = {"weights.json": '{"w": 1}', "MLmodel": MLMODEL}  # a classic model: pyfunc, for MLflow's server
    runs = seed_model(client, model, [{}, {}], {"champion": 1}, files=files)
    pins = project(
        tmp_path,
        base_image,
        registry.host,
        f"  {model}:\n    environment: prod\n    artifacts: image\n    serve: [{model}@champion]\n",
        f"  {model}:\n    aliases:\n      champion: 1\n",
        classic_base,
    )
    env = {"DOCKER_HOST": docker_engine.host, "MODELPINS_COMMIT": "0123abcd"}
    return model, runs, pins, env


def test_build_bakes_labels_pushes_and_records_the_digest(baked, mlflow_server, classic_base, registry, docker_engine):
    model, runs, pins, env = baked

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "build", "--push", env=env)

    assert result.returncode == 0, result.stderr
    assert "pushed" in result.stdout
    entry = json.loads((pins.parent / "deploy" / "images.lock.json").read_text())["images"][f"{model}/stable"]
    ref, _, digest = entry["image"].partition("@")
    tag = ref.rpartition(":")[2]
    assert tag.startswith(f"{model}-v1-")
    assert registry.manifest_digest(f"serving/{model}", tag) == digest
    labels = docker_engine.client().images.get(ref).labels
    assert labels["io.modelpins.model"] == model
    assert labels["io.modelpins.version"] == "1"
    assert labels["io.modelpins.run-id"] == runs[0]
    assert labels["io.modelpins.commit"] == "0123abcd"
    assert labels["org.opencontainers.image.base.name"] == classic_base  # a classic model: images.classic_base
    assert files_in(ref, f"/models/{model}/1", docker_engine) == {"1/weights.json": '{"w": 1}', "1/MLmodel": MLMODEL}
    # a classic model: built from deploy/Dockerfile.mlflow (MLflow's model server and the flavors' libraries) on
    # images.classic_base, not from the vLLM Dockerfile, whose MLflow client cannot serve it
    calls = files_in(ref, "/opt/python3-calls", docker_engine)["python3-calls"]
    assert "mlflow==3.17.2 boto3==" in calls and " scikit-learn==" in calls and "mlflow-skinny" not in calls


def test_build_refuses_baked_artefacts_that_differ_from_model_pins_lock(baked, client, mlflow_server, registry):
    model, runs, pins, env = baked
    assert run("--pins", pins, "--tracking-uri", mlflow_server.url, "lock").returncode == 0
    weights = run_files(client, runs[0]) / "model" / "weights.json"
    weights.write_text('{"w": 2}')  # re-uploaded behind the registry after locking

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "build", "--push", env=env)

    assert result.returncode == 1
    assert f"artefacts of {model} version 1 do not match model_pins.lock" in result.stderr
    assert registry.tags(f"serving/{model}") == []  # nothing was built or pushed
    assert not (pins.parent / "deploy" / "images.lock.json").exists()


def test_build_writes_each_images_sbom_and_labels_it(baked, mlflow_server, client, docker_engine, tmp_path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    model, runs, pins, env = baked
    private, _ = key_pair(tmp_path / "keys", "release")
    assert run("--tracking-uri", mlflow_server.url, "sign", f"{model}/1", "--key", private).returncode == 0
    signature = json.loads(client.get_model_version(model, "1").tags["modelpins.signature"])["digest"]

    subjects = tmp_path / "images.sha256"
    result = run(
        "--pins", pins, "--tracking-uri", mlflow_server.url, "build", "--push", "--subjects", subjects, env=env
    )

    assert result.returncode == 0, result.stderr
    written = pins.parent / "deploy" / "sbom" / f"{model}-stable.cdx.json"
    assert f"(SBOM {written})" in result.stdout
    ref = json.loads((pins.parent / "deploy" / "images.lock.json").read_text())["images"][f"{model}/stable"]["image"]
    labels = docker_engine.client().images.get(ref.partition("@")[0]).labels
    assert labels["io.modelpins.sbom"] == "/models/.modelpins/sbom.cdx.json"
    inside = files_in(ref.partition("@")[0], "/models/.modelpins/sbom.cdx.json", docker_engine)["sbom.cdx.json"]
    assert inside == written.read_text()  # the SBOM in the image is the one written next to the lock
    assert labels["io.modelpins.sbom.digest"] == "sha256:" + hashlib.sha256(inside.encode()).hexdigest()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(inside) is None  # valid CycloneDX 1.6
    bom = json.loads(inside)
    assert bom["metadata"]["component"]["version"] == ref.partition("@")[0].rpartition(":")[2]
    assert {"name": "modelpins:commit", "value": "0123abcd"} in bom["metadata"]["properties"]
    base, served = bom["components"]
    assert base["version"] == labels["org.opencontainers.image.base.name"].partition("@")[2]
    props = {p["name"]: p["value"] for p in served["properties"]}
    baked_digest = json.loads(labels["io.modelpins.models"])[0]["artifact_digest"]
    assert (served["name"], served["version"]) == (model, "1")
    assert props["modelpins:artifact_digest"] == baked_digest
    assert props["modelpins:run_id"] == runs[0]
    assert props["modelpins:signature_digest"] == signature
    repo, _, digest = ref.partition("@")  # what the attest step of pins-apply.yml is given
    assert subjects.read_text() == f"{digest.removeprefix('sha256:')}  {repo.rpartition(':')[0]}\n"


def test_unchanged_second_build_is_skipped_and_a_moved_alias_builds_a_new_tag(
    baked, mlflow_server, registry, docker_engine
):
    model, _, pins, env = baked
    lock = pins.parent / "deploy" / "images.lock.json"
    assert run("--pins", pins, "--tracking-uri", mlflow_server.url, "build", "--push", env=env).returncode == 0
    first = lock.read_bytes()
    images_before = {i.id for i in docker_engine.client().images.list()}

    again = run("--pins", pins, "--tracking-uri", mlflow_server.url, "build", "--push", env=env)

    assert again.returncode == 0, again.stderr
    assert "exists" in again.stdout and "pushed" not in again.stdout
    assert lock.read_bytes() == first
    assert {i.id for i in docker_engine.client().images.list()} == images_before
    assert len(registry.tags(f"serving/{model}")) == 1

    pins.write_text(pins.read_text().replace("champion: 1", "champion: 2"))
    moved = run("--pins", pins, "--tracking-uri", mlflow_server.url, "build", "--push", env=env)

    assert moved.returncode == 0, moved.stderr
    new = json.loads(lock.read_text())["images"][f"{model}/stable"]
    assert new["models"] == {model: 2}
    assert new["tag"].startswith(f"{model}-v2-")
    assert len(registry.tags(f"serving/{model}")) == 2


def test_init_mode_builds_one_runtime_image_that_render_then_uses(tmp_path, base_image, registry, docker_engine):
    pins = project(
        tmp_path,
        base_image,
        registry.host,
        "  chat:\n    environment: prod\n    serve: [llm@prod]\n",
        "  llm:\n    kind: base\n    aliases:\n      prod: 7\n",
    )
    env = {"DOCKER_HOST": docker_engine.host}

    result = run("--pins", pins, "build", "--push", env=env)

    assert result.returncode == 0, result.stderr
    runtime = json.loads((tmp_path / "deploy" / "images.lock.json").read_text())["runtime"]
    assert registry.manifest_digest("serving/modelpins-vllm", runtime["tag"]) == runtime["image"].split("@")[1]
    rendered = run("--pins", pins, "render", "--out", tmp_path / "manifests", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    manifest = (tmp_path / "manifests" / "base" / "chat" / "deployment-chat.yaml").read_text()
    assert f"image: {runtime['image']}" in manifest
    assert "models:/llm/7" in manifest
    user = docker_engine.client().images.get(runtime["image"].split("@")[0]).attrs["Config"]["User"]
    assert user == "10001:10001"  # not root; the pods' runAsUser
    assert "runAsUser: 10001" in manifest


def test_build_without_a_registry_is_invalid_input(tmp_path, base_image, docker_engine):
    pins = project(
        tmp_path,
        base_image,
        "x",
        "  chat:\n    environment: prod\n    serve: [llm@prod]\n",
        "  llm:\n    aliases:\n      prod: 1\n",
    )
    pins.write_text(pins.read_text().replace("  registry: x/serving\n", ""))

    result = run("--pins", pins, "build", env={"DOCKER_HOST": docker_engine.host})

    assert result.returncode == 2
    assert "--registry" in result.stderr
    assert not (tmp_path / "deploy" / "images.lock.json").exists()


def test_build_refuses_a_served_version_without_the_layout_its_runtime_loads(
    tmp_path, client, mlflow_server, base_image, registry, docker_engine
):
    model = unique("nolayout")
    seed_model(client, model, 1, {"champion": 1}, files={"logreg.json": "{}"})  # no MLmodel: not pyfunc
    pins = project(
        tmp_path,
        base_image,
        registry.host,
        f"  {model}:\n    environment: prod\n    serve: [{model}@champion]\n",
        f"  {model}:\n    aliases:\n      champion: 1\n",
    )
    before = {i.id for i in docker_engine.client().images.list()}

    result = run("--pins", pins, "--tracking-uri", mlflow_server.url, "build", env={"DOCKER_HOST": docker_engine.host})

    assert result.returncode == 2, result.stderr
    line = next(i for i, row in enumerate(pins.read_text().splitlines(), 1) if row == "      champion: 1")
    assert f"{pins}:{line}:" in result.stderr
    assert "found flavors (no MLmodel) and logreg.json" in result.stderr and "python_function" in result.stderr
    assert {i.id for i in docker_engine.client().images.list()} == before
