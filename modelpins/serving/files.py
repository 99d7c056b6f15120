"""Writing a rendered tree: only files that changed, and removing rendered files no longer produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelpins.serving.render import HEADER


@dataclass
class TreeChanges:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0


def write_tree(out: Path, files: dict[str, bytes]) -> TreeChanges:
    """Make `out` hold exactly `files` among rendered files; files modelpins did not render are left alone."""
    changes = TreeChanges()
    if out.exists():
        for path in sorted(out.rglob("*.yaml")):
            rel = path.relative_to(out).as_posix()
            if rel not in files and path.read_bytes().startswith(HEADER):
                path.unlink()
                changes.removed.append(rel)
        for directory in sorted((p for p in out.rglob("*") if p.is_dir()), reverse=True):
            if not any(directory.iterdir()):
                directory.rmdir()
    for rel, data in files.items():
        path = out / rel
        if path.exists() and path.read_bytes() == data:
            changes.unchanged += 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        changes.written.append(rel)
    return changes
