"""Image references of the rendered pods: the runtime tag, the image of each track, the classic model server. Pure."""

from __future__ import annotations

import hashlib

from modelpins.errors import InvalidInput
from modelpins.pins import Deployment, PinsFile
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.tracks import Track

RUNTIME_REPOSITORY = "modelpins-vllm"
CLASSIC_REPOSITORY = "mlflow-serve"  # MLflow's model server image for classic models (deploy/Dockerfile.mlflow)
CLASSIC_NOTE = "images.classic of model_pins.yaml: MLflow's model server image, built from deploy/Dockerfile.mlflow"
CLASSIC_UNPUSHED = (
    "not pushed yet: the content-addressed tag of images.classic_base and deploy/Dockerfile.mlflow; 'modelpins build "
    "--push' builds it and records its digest in deploy/images.lock.json, and render then pins it"
)
CLASSIC_BUILT = (
    "pinned by digest in deploy/images.lock.json (classic), written by 'modelpins build --push' from "
    "deploy/Dockerfile.mlflow on images.classic_base"
)


def classic_tag(base: str, dockerfile: bytes) -> str:
    """The content-addressed tag of MLflow's model server image (images.classic_base + deploy/Dockerfile.mlflow)."""
    return "classic-" + hashlib.sha256(base.encode() + b"\0" + hashlib.sha256(dockerfile).digest()).hexdigest()[:12]


def classic_image(
    pins: PinsFile, dep: Deployment, lock: ImageLock | None = None, dockerfile: bytes | None = None
) -> str:
    """MLflow's model server image: images.classic as given, else the one build made on images.classic_base
    (by digest from deploy/images.lock.json; before the first push, its content-addressed tag, from
    deploy/Dockerfile.mlflow's bytes)."""
    if pins.images.classic:
        return pins.images.classic
    built = lock.classic if lock else None
    base = pins.images.classic_base
    if base and built and built.basis == base and (dockerfile is None or built.tag == classic_tag(base, dockerfile)):
        return built.image
    if base and dockerfile is not None and pins.images.registry:
        return f"{pins.images.registry}/{CLASSIC_REPOSITORY}:{classic_tag(base, dockerfile)}"
    if pins.images.classic_base:
        raise InvalidInput(
            f"deployment '{dep.name}' ({pins.path}:{dep.line}) serves a classic model on MLflow's model server, "
            "and deploy/images.lock.json records no image built on images.classic_base yet; fix: run "
            "'modelpins build --push' (it builds deploy/Dockerfile.mlflow) and commit deploy/images.lock.json"
        )
    raise InvalidInput(
        f"deployment '{dep.name}' ({pins.path}:{dep.line}) serves a classic model (kind: model), which MLflow's "
        "model server runs, but the pins name no image for it; fix: add 'images: {classic_base: "
        "python:3.12-slim@sha256:...}' for 'modelpins build' to make it from deploy/Dockerfile.mlflow, or 'images: "
        "{classic: REGISTRY/mlflow-serve@sha256:...}' (mlflow and the flavors' libraries)"
    )


def runtime_tag(base: str, dockerfile: bytes) -> str:
    """The content-addressed tag of the generic runtime image (base image + Dockerfile)."""
    return "runtime-" + hashlib.sha256(base.encode() + b"\n" + dockerfile).hexdigest()[:12]


def image_for(pins: PinsFile, lock: ImageLock, dockerfile: bytes, dep: Deployment, track: Track) -> str:
    if dep.artifacts == "image":
        entry = lock.images.get(f"{dep.name}/{track.key}")
        if entry is None or entry.models != track.models():
            built = f"built from {entry.models}" if entry else "no image recorded"
            raise InvalidInput(
                f"deployment '{dep.name}' ({pins.path}:{dep.line}) bakes its models into the image "
                f"('artifacts: image') and deploy/images.lock.json has {built} for {dep.name}/{track.key}, "
                f"but the pins serve {track.models()}; fix: run 'modelpins build --push' (with MLflow access), "
                "then render"
            )
        return entry.image
    if not pins.images.base:
        raise InvalidInput(
            f"{pins.path}: deployments need 'images.base' (vLLM's image pinned by digest) to name their runtime "
            "image; fix: add 'images: {registry: REGISTRY, base: vllm/vllm-openai@sha256:...}'"
        )
    tag = runtime_tag(pins.images.base, dockerfile)
    if lock.runtime and lock.runtime.tag == tag:
        return lock.runtime.image
    if not pins.images.registry:
        raise InvalidInput(
            f"{pins.path}: no registry to name the runtime image {tag}; fix: add 'images.registry' "
            "(e.g. ghcr.io/acme/serving) or run 'modelpins build --push --registry HOST' to record it"
        )
    return f"{pins.images.registry}/{RUNTIME_REPOSITORY}:{tag}"


def image_note(image: str) -> str:
    """What the manifests say about their image: where its digest comes from, or that it was never pushed."""
    if "@sha256:" in image:
        return "pinned by digest in deploy/images.lock.json, written by 'modelpins build --push'"
    return (
        "not pushed yet: the content-addressed tag of images.base and deploy/Dockerfile; 'modelpins build --push' "
        "builds it and records its digest in deploy/images.lock.json, and render then pins it"
    )
