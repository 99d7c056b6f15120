"""Serving images: content-addressed tags, built from deploy/Dockerfile with the docker SDK.

Three kinds of image:
- the runtime (`<registry>/modelpins-vllm:runtime-<hash of base digest + Dockerfile>`), for
  deployments with `artifacts: init`: pods download models:/<name>/<version> at start;
- one image per deployment track for `artifacts: image`
  (`<registry>/<deployment>:<model>-v<version>-<hash>`), with the artefacts baked in at
  /models/<name>/<version>; the hash covers the base, the Dockerfile and every served model's
  name, version and artefact digest;
- MLflow's model server for classic models (`<registry>/mlflow-serve:classic-<hash of images.classic_base +
  deploy/Dockerfile.mlflow>`), unless the pins name one as images.classic.

A tag that already exists (in the registry with --push, locally without) is never rebuilt.
Images carry OCI labels plus io.modelpins.* labels naming model, version, run id and commit.
A baked image also carries its CycloneDX SBOM (modelpins.serving.sbom) at /models/.modelpins/,
named by the label io.modelpins.sbom with its digest; a copy goes to `sbom_dir`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from modelpins import layout, safe_write, tags
from modelpins.errors import InvalidInput, OperationFailed
from modelpins.integrity.digest import local_digest
from modelpins.pins import Deployment, PinsFile
from modelpins.progress import Step, noop
from modelpins.serving import sbom
from modelpins.serving.checks import check
from modelpins.serving.image_lock import ImageLock, LockEntry
from modelpins.serving.image_refs import (
    CLASSIC_REPOSITORY,
    RUNTIME_REPOSITORY,
    classic_image,
    classic_tag,
    runtime_tag,
)
from modelpins.serving.tracks import Pinned, Track, tracks

# (model, version, destination) -> None: creates the directory `destination` holding the version's artefacts
Fetch = Callable[[str, int, Path], None]


@dataclass(frozen=True)
class Built:
    key: str  # "runtime", "classic" or "<deployment>/<track>"
    image: str  # repo:tag, with @digest once pushed
    status: str  # built | pushed | exists
    sbom: str = ""  # the SBOM written for it (a path), when one was


class DockerImages:
    """The docker engine adapter: build, push, and ask whether a tag exists."""

    def __init__(self, client: Any = None, network: str | None = None):
        import docker  # deferred: only build imports the docker SDK

        self.network = network  # of the builds' RUN steps (docker build --network); None: the engine's default
        try:
            # builds and pushes of multi-GB layers can be silent for minutes: a long read timeout
            self.client = client or docker.from_env(timeout=1800)
            self.client.ping()
        except docker.errors.DockerException as exc:
            raise OperationFailed(
                f"cannot reach the docker engine ({exc}); start dockerd or set DOCKER_HOST=unix:///PATH/docker.sock"
            ) from None

    def registry_digest(self, ref: str) -> str | None:
        """The manifest digest of `ref` in its registry, None when the tag does not exist there."""
        import docker

        try:
            return str(self.client.images.get_registry_data(ref).id)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            if "not found" in str(exc).lower() or "unknown" in str(exc).lower():
                return None
            raise OperationFailed(f"cannot ask the registry about {ref}: {exc}") from None

    def exists_locally(self, ref: str) -> bool:
        import docker

        try:
            self.client.images.get(ref)
            return True
        except docker.errors.ImageNotFound:
            return False

    def build(self, context: Path, ref: str, buildargs: dict[str, str], labels: dict[str, str]) -> str:
        import docker

        try:
            image, _ = self.client.images.build(
                path=str(context),
                tag=ref,
                buildargs=buildargs,
                labels=labels,
                rm=True,
                forcerm=True,
                pull=False,
                network_mode=self.network,
            )
        except docker.errors.BuildError as exc:
            tail = "".join(str(x.get("stream") or x.get("error") or "") for x in list(exc.build_log)[-6:])
            raise OperationFailed(f"building {ref} failed: {exc.msg}\n{tail.strip()}") from None
        except docker.errors.APIError as exc:
            raise OperationFailed(f"building {ref} failed: {exc.explanation or exc}") from None
        return str(image.id)

    def push(self, ref: str) -> str:
        repo, _, tag = ref.rpartition(":")
        digest = None
        for line in self.client.images.push(repo, tag=tag, stream=True, decode=True):
            if "error" in line:
                raise OperationFailed(f"pushing {ref} failed: {line.get('error')}")
            digest = (line.get("aux") or {}).get("Digest") or digest
        if not digest:
            raise OperationFailed(f"pushing {ref} did not report a digest; check the registry's logs")
        return str(digest)

    def labels(self, ref: str) -> dict[str, str]:
        return dict(self.client.images.get(ref).labels or {})


def mlflow_fetch(tracking_uri: str) -> Fetch:
    def fetch(model: str, version: int, dest: Path) -> None:
        from mlflow import MlflowClient
        from mlflow.artifacts import download_artifacts

        # MLflow's own client, on purpose: the download URI and the download itself go to whatever
        # artifact store holds the version (S3, GCS, the server's proxy...), which only mlflow speaks.
        try:
            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            uri = client.get_model_version_download_uri(model, str(version))
            with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
                local = Path(download_artifacts(artifact_uri=uri, dst_path=tmp, tracking_uri=tracking_uri))
                if local.is_dir():
                    local.rename(dest)
                else:
                    dest.mkdir()
                    local.rename(dest / local.name)
        except Exception as exc:  # noqa: BLE001 - mlflow raises many types; all mean "could not fetch"
            raise OperationFailed(f"cannot download models:/{model}/{version} from {tracking_uri}: {exc}") from None

    return fetch


def serves_classic(pins: PinsFile, dep: Deployment) -> bool:
    """The deployment downloads a classic model at pod start, for MLflow's model server image to serve."""
    return dep.artifacts == "init" and any(
        layout.runtime(pins.models[s.base.model].kind) == layout.MLFLOW for t in tracks(pins, dep) for s in t.servers
    )


def needs_classic(pins: PinsFile) -> bool:
    """build makes MLflow's model server image: a deployment needs it and the pins do not name one."""
    return not pins.images.classic and any(serves_classic(pins, d) for d in pins.deployments.values())


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.")[:60] or "model"


@dataclass
class Builder:
    """Builds what the pins file needs; `images` is the docker adapter, `fetch` reads artefacts."""

    pins: PinsFile
    dockerfile: Path
    registry: str
    images: DockerImages
    push: bool
    commit: str | None = None
    fetch: Fetch | None = None
    run_ids: dict[tuple[str, int], str] | None = None
    locked: dict[tuple[str, int], str] | None = None  # artefact digests from model_pins.lock, checked once fetched
    signatures: dict[tuple[str, int], str] | None = None  # signature bundle digests of signed versions
    sbom_dir: Path | None = None
    classic_dockerfile: Path | None = None  # deploy/Dockerfile.mlflow: MLflow's model server, for classic models

    def base(self) -> str:
        if not self.pins.images.base:
            raise InvalidInput(
                f"{self.pins.path}: no base image to build from; fix: add 'images: {{base: "
                "vllm/vllm-openai@sha256:...}' (pinned by digest)"
            )
        return self.pins.images.base

    def run(self, lock: ImageLock, progress: Step = noop) -> list[Built]:
        check(self.pins)
        base = self.base()
        dockerfile = self.dockerfile.read_bytes()
        out: list[Built] = []
        deps = list(self.pins.deployments.values())
        basis = runtime_tag(base, dockerfile)
        if any(d.artifacts == "init" for d in deps):
            tag = basis
            labels = self._labels("runtime", [])
            built = self._ensure(f"{self.registry}/{RUNTIME_REPOSITORY}:{tag}", labels, lambda ctx: None)
            if self.push:
                lock.runtime = LockEntry(built.image, tag)
            out.append(Built("runtime", built.image, built.status))
            progress("runtime")
        if needs_classic(self.pins):
            out.append(self._classic(lock))
            progress("classic")
        for dep in deps:
            if dep.artifacts != "image":
                continue
            for track in tracks(self.pins, dep):
                key = f"{dep.name}/{track.key}"
                known = lock.images.get(key)
                track_basis = runtime_tag(*self._track_basis(dep.name, track, base, dockerfile)[:2])
                if self.push and known and known.models == track.models() and known.basis == track_basis:
                    ref = known.image.split("@")[0]
                    if self.images.registry_digest(ref):
                        out.append(Built(key, known.image, "exists"))
                        progress(key)
                        continue
                built = self._track(dep.name, track, *self._track_basis(dep.name, track, base, dockerfile))
                if self.push:
                    tag = built.image.split("@")[0].rpartition(":")[2]
                    lock.images[key] = LockEntry(built.image, tag, track.models(), track_basis)
                out.append(Built(key, built.image, built.status, built.sbom))
                progress(key)
        return out

    def _track_basis(self, dep: str, track: Track, base: str, dockerfile: bytes) -> tuple[str, bytes, Path | None]:
        """(base image, Dockerfile bytes, Dockerfile path) a baked track builds from: deploy/Dockerfile on
        images.base for vLLM, deploy/Dockerfile.mlflow on images.classic_base (or images.classic) for a track of
        classic models only, so `mlflow models serve` runs with the flavors' libraries."""
        if any(layout.runtime(self.pins.models[s.base.model].kind) == layout.VLLM for s in track.servers):
            return base, dockerfile, None
        classic_base = self.pins.images.classic_base or self.pins.images.classic
        if not classic_base:
            raise InvalidInput(
                f"deployment '{dep}' bakes a classic model into its image, which MLflow's model server runs; fix: "
                "add 'images: {classic_base: python:3.12-slim@sha256:...}' (deploy/Dockerfile.mlflow is built on it)"
            )
        path = self.classic_dockerfile or self.dockerfile.with_name("Dockerfile.mlflow")
        try:
            return classic_base, path.read_bytes(), path
        except OSError as exc:
            raise InvalidInput(
                f"{path}: cannot read MLflow's model server Dockerfile ({exc.strerror}); fix: keep it at "
                "deploy/Dockerfile.mlflow next to the serving Dockerfile"
            ) from None

    def _track(
        self, dep: str, track: Track, base: str, dockerfile: bytes, dockerfile_path: Path | None = None
    ) -> Built:
        if self.fetch is None:
            raise InvalidInput(f"deployment '{dep}' bakes models into its image; pass --tracking-uri to fetch them")
        with tempfile.TemporaryDirectory(prefix="modelpins-build-") as tmp:
            models = Path(tmp) / "models"
            digests: dict[Pinned, str] = {}
            for ref in dict.fromkeys(track.refs()):
                dest = models / ref.model / str(ref.version)
                dest.parent.mkdir(parents=True, exist_ok=True)
                self.fetch(ref.model, ref.version, dest)
                digests[ref] = self._checked(ref, local_digest(dest).digest)
            content = json.dumps(
                {
                    "base": base,
                    "dockerfile": hashlib.sha256(dockerfile).hexdigest(),
                    "models": [[r.model, r.version, d] for r, d in digests.items()],
                }
            )
            primary = track.servers[0].adapters[0][1] if track.servers[0].adapters else track.servers[0].base
            tag = f"{slug(primary.model)}-v{primary.version}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"
            labels = self._labels(f"{dep}/{track.key}", [(r, d) for r, d in digests.items()], primary, base)
            image = f"{self.registry}/{dep}:{tag}"
            text = self._sbom(image, base, digests)
            inside = models / sbom.PATH.removeprefix("/models/")
            inside.parent.mkdir(parents=True)
            inside.write_text(text, encoding="utf-8")
            labels[sbom.LABEL] = sbom.PATH
            labels[sbom.LABEL + ".digest"] = sbom.digest(text)
            written = ""
            if self.sbom_dir is not None:
                self.sbom_dir.mkdir(parents=True, exist_ok=True)
                path = self.sbom_dir / f"{slug(dep)}-{track.key}.cdx.json"
                safe_write.write_file(path, text, "the SBOM path")  # never through a link
                written = str(path)
            fill = lambda ctx: shutil.copytree(models, ctx / "models")  # noqa: E731
            built = self._ensure(image, labels, fill, dockerfile_path, base)
            return replace(built, sbom=written)

    def _checked(self, ref: Pinned, digest: str) -> str:
        """The digest of the artefacts fetched for `ref`; OperationFailed when model_pins.lock locked others."""
        want = (self.locked or {}).get((ref.model, ref.version))
        if want is not None and want != digest:
            raise OperationFailed(
                f"artefacts of {ref.model} version {ref.version} do not match model_pins.lock: fetched {digest}, "
                f"locked {want}; nothing was built. Restore the artefacts or pin another version (if the change is "
                "intended, run `modelpins lock` and have model_pins.lock reviewed)"
            )
        return digest

    def _sbom(self, ref: str, base: str, digests: dict[Pinned, str]) -> str:
        run_ids, signatures = self.run_ids or {}, self.signatures or {}
        served = [
            sbom.Served(
                r.model,
                r.alias,
                r.version,
                self.pins.models[r.model].kind,
                d,
                run_ids.get((r.model, r.version), ""),
                signatures.get((r.model, r.version), ""),
            )
            for r, d in digests.items()
        ]
        return sbom.bom(ref, base, self.commit, served)

    def _classic(self, lock: ImageLock) -> Built:
        """MLflow's model server image: deploy/Dockerfile.mlflow on images.classic_base."""
        base = self.pins.images.classic_base
        if not base:
            dep = next(d for d in self.pins.deployments.values() if serves_classic(self.pins, d))
            classic_image(self.pins, dep)  # raises: the pins name neither the image nor its base
            raise AssertionError("unreachable")
        dockerfile = self.classic_dockerfile or self.dockerfile.with_name("Dockerfile.mlflow")
        try:
            content = dockerfile.read_bytes()
        except OSError as exc:
            raise InvalidInput(
                f"{dockerfile}: cannot read MLflow's model server Dockerfile ({exc.strerror}); fix: keep it at "
                "deploy/Dockerfile.mlflow next to the serving Dockerfile"
            ) from None
        tag = classic_tag(base, content)
        labels = self._labels("classic", [], base=base)
        built = self._ensure(f"{self.registry}/{CLASSIC_REPOSITORY}:{tag}", labels, lambda ctx: None, dockerfile, base)
        if self.push:
            lock.classic = LockEntry(built.image, tag, basis=base)
        return Built("classic", built.image, built.status)

    def _ensure(
        self,
        ref: str,
        labels: dict[str, str],
        fill: Callable[[Path], object],
        dockerfile: Path | None = None,
        base: str | None = None,
    ) -> Built:
        """Build and push `ref` unless the tag exists already (in the registry with push, else locally)."""
        digest = self.images.registry_digest(ref) if self.push else None
        if digest or (not self.push and self.images.exists_locally(ref)):
            return Built("", f"{ref}@{digest}" if digest else ref, "exists")
        with tempfile.TemporaryDirectory(prefix="modelpins-context-") as tmp:
            ctx = Path(tmp)
            shutil.copyfile(dockerfile or self.dockerfile, ctx / "Dockerfile")
            fill(ctx)
            (ctx / "models").mkdir(exist_ok=True)
            self.images.build(ctx, ref, {"BASE_IMAGE": base or self.base()}, labels)
        if not self.push:
            return Built("", ref, "built")
        return Built("", f"{ref}@{self.images.push(ref)}", "pushed")

    def _labels(
        self, what: str, models: list[tuple[Pinned, str]], primary: Pinned | None = None, base: str | None = None
    ) -> dict[str, str]:
        run_ids = self.run_ids or {}
        labels = {
            "org.opencontainers.image.title": what,
            "org.opencontainers.image.base.name": base or self.base(),
            tags.IMAGE_LABEL + "image": what,
        }
        if self.commit:
            labels["org.opencontainers.image.revision"] = self.commit
            labels[tags.IMAGE_LABEL + "commit"] = self.commit
        if primary:
            labels[tags.IMAGE_LABEL + "model"] = primary.model
            labels[tags.IMAGE_LABEL + "version"] = str(primary.version)
            labels[tags.IMAGE_LABEL + "run-id"] = run_ids.get((primary.model, primary.version), "")
        if models:
            labels[tags.IMAGE_LABEL + "models"] = json.dumps(
                [
                    {
                        "model": r.model,
                        "alias": r.alias,
                        "version": r.version,
                        "run_id": run_ids.get((r.model, r.version), ""),
                        "artifact_digest": d,
                    }
                    for r, d in models
                ],
                separators=(",", ":"),
            )
        return labels
