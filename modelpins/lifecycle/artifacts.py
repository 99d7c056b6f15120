"""A version's artefact files and their content digest, read through the tracking server.

Sources `runs:/<run>/<path>` and `models:/<logged-model-id>` are listed and streamed over
the server's REST routes (no local copy, whatever store sits behind the server); any
other URI (`s3://`, `mlflow-artifacts:/`, a path) is downloaded to a temporary directory
with `mlflow.artifacts.download_artifacts`, hashed and deleted.

The digest is `sha256:` of a manifest, one line per file sorted by path:
`<sha256 of the content>  <size>  <path relative to the source>`, so two listings
with the same files, sizes and bytes give the same digest and any change gives another.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelpins.errors import OperationFailed
from modelpins.registry import API, MlflowRegistry

CHUNK = 1024 * 1024
RUNS_RE = re.compile(r"runs:/([0-9A-Za-z_-]+)(?:/(.*))?")
LOGGED_RE = re.compile(r"models:/(m-[0-9a-f]+)/?(.*)")


@dataclass(frozen=True)
class FileDigest:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Digest:
    digest: str
    files: tuple[FileDigest, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def manifest(files: list[FileDigest]) -> str:
    return "".join(f"{f.sha256}  {f.size}  {f.path}\n" for f in sorted(files, key=lambda f: f.path))


def digest_of(files: list[FileDigest]) -> Digest:
    text = manifest(files)
    return Digest("sha256:" + hashlib.sha256(text.encode()).hexdigest(), tuple(sorted(files, key=lambda f: f.path)))


class Reader:
    """Lists and hashes the files under a model version's source."""

    def __init__(self, registry: MlflowRegistry, tracking_uri: str):
        self.registry = registry
        self.tracking_uri = tracking_uri.rstrip("/")
        self.bytes_read = 0

    def listing(self, source: str) -> list[tuple[str, int]]:
        """(relative path, size) of every file, from the server's listing only (no content read)."""
        route = self._route(source)
        if route is None:
            return [(f.path, f.size) for f in self._download_digest(source).files]
        return [(rel, size) for rel, size, _ in self._walk(*route)]

    def digest(self, source: str) -> Digest:
        route = self._route(source)
        if route is None:
            return self._download_digest(source)
        files = []
        for rel, _listed, full in self._walk(*route):
            h = hashlib.sha256()
            n = 0
            for chunk in self._stream(route[0], route[1], full):
                h.update(chunk)
                n += len(chunk)
            self.bytes_read += n
            files.append(FileDigest(rel, n, h.hexdigest()))
        return digest_of(files)

    def download(self, source: str, dest: Path) -> Digest:
        """Every file under the source into the new directory `dest`, hashed as it is written."""
        route = self._route(source)
        if route is None:
            import mlflow.artifacts  # deferred: heavy, and only for sources the REST routes do not cover

            dest.mkdir(parents=True)
            with tempfile.TemporaryDirectory(dir=dest) as tmp:
                local = Path(
                    mlflow.artifacts.download_artifacts(
                        artifact_uri=source, dst_path=tmp, tracking_uri=self.tracking_uri
                    )
                )
                for p in [local] if local.is_file() else list(local.iterdir()):
                    p.rename(dest / p.name)
            return self._hash_local(dest)
        files = []
        for rel, _listed, full in self._walk(*route):
            target = (dest / rel).resolve()
            if not target.is_relative_to(dest.resolve()) or not rel:
                raise OperationFailed(f"artefact path '{rel}' of {source} leaves its directory; refusing to write it")
            target.parent.mkdir(parents=True, exist_ok=True)
            h, n = hashlib.sha256(), 0
            with target.open("wb") as out:
                for chunk in self._stream(route[0], route[1], full):
                    h.update(chunk)
                    out.write(chunk)
                    n += len(chunk)
            self.bytes_read += n
            files.append(FileDigest(rel, n, h.hexdigest()))
        return digest_of(files)

    def read(self, source: str, rel: str) -> bytes | None:
        """The content of one small file under the source (the MLmodel, say); None when it is not there."""
        route = self._route(source)
        if route is None:
            import mlflow.artifacts  # deferred: heavy, and only for sources the REST routes do not cover

            try:
                text = mlflow.artifacts.load_text(f"{source.rstrip('/')}/{rel}")
            except Exception:  # noqa: BLE001 - mlflow raises many types; all mean "not readable"
                return None
            return text.encode()
        kind, ident, root = route
        try:
            data = b"".join(self._stream(kind, ident, f"{root}/{rel}" if root else rel))
        except OperationFailed:
            return None
        self.bytes_read += len(data)
        return data

    # -- REST routes --------------------------------------------------------------------------

    def _route(self, source: str) -> tuple[str, str, str] | None:
        m = RUNS_RE.fullmatch(source)
        if m:
            return "run", m.group(1), (m.group(2) or "").strip("/")
        m = LOGGED_RE.fullmatch(source)
        if m:
            return "logged", m.group(1), m.group(2).strip("/")
        return None

    def _list(self, kind: str, ident: str, path: str) -> list[dict[str, Any]]:
        if kind == "run":
            params = {"run_id": ident, **({"path": path} if path else {})}
            page = self.registry.call("GET", "artifacts/list", params=params) or {}
        else:
            params = {"artifact_directory_path": path} if path else {}
            page = self.registry.call("GET", f"logged-models/{ident}/artifacts/directories", params=params) or {}
        return list(page.get("files", []))

    def _walk(self, kind: str, ident: str, root: str) -> Iterator[tuple[str, int, str]]:
        """(path relative to root, size, full path) for every file under root, depth first."""
        stack = [root]
        found = False
        while stack:
            directory = stack.pop()
            for f in self._list(kind, ident, directory):
                found = True
                if f.get("is_dir"):
                    stack.append(f["path"])
                else:
                    full = f["path"]
                    rel = full[len(root) :].lstrip("/") if root else full
                    yield rel, int(f.get("file_size", 0) or 0), full
        if not found:
            raise OperationFailed(f"no artefact files under {kind} {ident} path '{root}'; was the source deleted?")

    def _stream(self, kind: str, ident: str, path: str) -> Iterator[bytes]:
        base = self.registry.base.removesuffix(API)
        if kind == "run":
            url, params = f"{base}/get-artifact", {"run_id": ident, "path": path}
        else:
            url, params = (
                f"{base}/ajax-api/2.0/mlflow/logged-models/{ident}/artifacts/files",
                {"artifact_file_path": path},
            )
        self.registry.reads += 1
        # the adapter's session carries its authentication and TLS settings
        session = self.registry._session
        with session.get(url, params=params, stream=True, timeout=self.registry.timeout) as resp:
            if resp.status_code != 200:
                raise OperationFailed(f"cannot read artefact '{path}' of {kind} {ident}: HTTP {resp.status_code}")
            yield from resp.iter_content(CHUNK)

    def _download_digest(self, source: str) -> Digest:
        import mlflow.artifacts  # deferred: heavy, and only for sources the REST routes do not cover

        with tempfile.TemporaryDirectory(prefix="modelpins-") as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=tmp, tracking_uri=self.tracking_uri)
            )
            return self._hash_local(local)

    def _hash_local(self, local: Path) -> Digest:
        paths = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
        files = []
        for p in paths:
            h = hashlib.sha256()
            with p.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    h.update(chunk)
            size = p.stat().st_size
            self.bytes_read += size
            files.append(FileDigest(p.name if p == local else p.relative_to(local).as_posix(), size, h.hexdigest()))
        return digest_of(files)
