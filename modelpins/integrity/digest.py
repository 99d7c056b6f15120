"""The artefact digest, one scheme for every use: model_pins.lock, the images build bakes, and their checks.

The digest is `sha256:` of a manifest, one line per file sorted by path:
`<sha256 of the content>  <size>  <path relative to the source>`, so two listings
with the same files, sizes and bytes give the same digest and any change gives another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024


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


def local_digest(local: Path) -> Digest:
    """The digest of a downloaded source: a file, or every file under a directory (paths relative to it)."""
    paths = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
    files = []
    for p in paths:
        h = hashlib.sha256()
        with p.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        files.append(
            FileDigest(p.name if p == local else p.relative_to(local).as_posix(), p.stat().st_size, h.hexdigest())
        )
    return digest_of(files)
