"""deploy/images.lock.json: the images `modelpins build` produced, read by `modelpins render`.

Render stays offline: an image reference that depends on registry data (the digest of a
pushed image, the digest of baked artefacts) is recorded here by build and committed.

    {"version": 1,
     "runtime": {"image": "REG/modelpins-vllm:runtime-<hash>@sha256:<digest>", "tag": "runtime-<hash>"},
     "classic": {"image": "REG/mlflow-serve:classic-<hash>@sha256:<digest>", "tag": "classic-<hash>",
                 "basis": "<images.classic_base>"},
     "images": {"<deployment>/<track>": {"image": "REG/<deployment>:<tag>@sha256:<digest>", "tag": "<tag>",
                                         "models": {"<model>": <version>, ...},
                                         "basis": "runtime-<hash>"}}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelpins import safe_write
from modelpins.errors import InvalidInput
from modelpins.yamlsrc import read_limited

LOCK_VERSION = 1


@dataclass(frozen=True)
class LockEntry:
    image: str
    tag: str
    models: dict[str, int] = field(default_factory=dict)
    basis: str = ""  # the runtime tag (base image + Dockerfile) an image was built on

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"image": self.image, "tag": self.tag}
        if self.models:
            out["models"] = dict(sorted(self.models.items()))
        if self.basis:
            out["basis"] = self.basis
        return out


@dataclass
class ImageLock:
    runtime: LockEntry | None = None
    classic: LockEntry | None = None  # MLflow's model server (deploy/Dockerfile.mlflow on images.classic_base)
    images: dict[str, LockEntry] = field(default_factory=dict)

    def dumps(self) -> str:
        data: dict[str, Any] = {"version": LOCK_VERSION}
        if self.runtime:
            data["runtime"] = self.runtime.as_json()
        if self.classic:
            data["classic"] = self.classic.as_json()
        data["images"] = {k: self.images[k].as_json() for k in sorted(self.images)}
        return json.dumps(data, indent=2) + "\n"


def load(path: Path) -> ImageLock:
    """The lock at `path`; an empty lock when the file does not exist yet."""
    if not path.exists():
        return ImageLock()
    return loads(read_limited(path), str(path))


def loads(text: str | bytes, path: str) -> ImageLock:
    """The lock read from `text` (the file's content, from disk or a git ref); `path` names it in errors."""
    try:
        data = json.loads(text)
        runtime = _entry(data["runtime"]) if data.get("runtime") else None
        classic = _entry(data["classic"]) if data.get("classic") else None
        images = {key: _entry(value) for key, value in data.get("images", {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(
            f"{path}: not a valid image lock ({type(exc).__name__}: {exc}); "
            "fix: delete it and run 'modelpins build' to write it again"
        ) from None
    return ImageLock(runtime, classic, images)


def save(lock: ImageLock, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    safe_write.write_file(path, lock.dumps(), "--lock")


def _entry(value: dict[str, Any]) -> LockEntry:
    models = {str(k): int(v) for k, v in (value.get("models") or {}).items()}
    return LockEntry(str(value["image"]), str(value["tag"]), models, str(value.get("basis", "")))
