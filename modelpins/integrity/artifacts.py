"""A version's artefact files and their content digest, read through the tracking server.

Sources `runs:/<run>/<path>` and `models:/<logged-model-id>` are listed and streamed over
the server's REST routes (no local copy, whatever store sits behind the server); any
other URI (`s3://`, `mlflow-artifacts:/`, a path) is downloaded to a temporary directory
with `mlflow.artifacts.download_artifacts`, hashed and deleted.

The digest is modelpins.integrity.digest's: one scheme for the lock, the build and every check.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelpins.errors import OperationFailed
from modelpins.integrity.digest import CHUNK, Digest, FileDigest, digest_of, local_digest
from modelpins.registry import MlflowRegistry

RUNS_RE = re.compile(r"runs:/([0-9A-Za-z_-]+)(?:/(.*))?")
LOGGED_RE = re.compile(r"models:/(m-[0-9a-f]+)/?(.*)")
REGISTERED_RE = re.compile(r"models:/([^/]+)/([0-9]+)/?")  # a copy on its source's server names the source so


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

    def _route(self, source: str, depth: int = 0) -> tuple[str, str, str] | None:
        m = REGISTERED_RE.fullmatch(source)
        if m and depth < 4:  # the files of that registered version, read from this registry
            named = self.registry.version(m.group(1), int(m.group(2)))
            if named is None:
                raise OperationFailed(f"{source}: that version no longer exists in {self.tracking_uri}")
            return self._route(named.source, depth + 1)
        m = RUNS_RE.fullmatch(source)
        if m:
            return "run", m.group(1), (m.group(2) or "").strip("/")
        m = LOGGED_RE.fullmatch(source)
        if m:
            return "logged", m.group(1), m.group(2).strip("/")
        return None

    def _list(self, kind: str, ident: str, path: str) -> list[dict[str, Any]]:
        return self.registry.list_artifacts(kind, ident, path)

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
        return self.registry.stream_artifact(kind, ident, path, CHUNK)

    def _download_digest(self, source: str) -> Digest:
        import mlflow.artifacts  # deferred: heavy, and only for sources the REST routes do not cover

        with tempfile.TemporaryDirectory(prefix="modelpins-") as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=tmp, tracking_uri=self.tracking_uri)
            )
            return self._hash_local(local)

    def _hash_local(self, local: Path) -> Digest:
        """The digest of a local file or directory (modelpins.integrity.digest), its bytes counted as read."""
        found = local_digest(local)
        self.bytes_read += found.size
        return found
