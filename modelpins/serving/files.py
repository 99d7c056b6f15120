"""Writing a rendered tree: only files that changed, and removing rendered files no longer produced.

What render owns in the output directory is listed in its index, `.modelpins-rendered`: the
files of the last render, each with a digest of the bytes it wrote (`PATH SHA256[:32]`), and
the directories render created for them. Only files listed there (and still carrying the
render header) are ever deleted, and only listed directories, once empty, are removed;
everything else in the directory is left alone. An output directory that is `/`, a
repository (or holds one), or lies inside `.git` is refused before anything is read or written.

A file whose new bytes are unchanged is not opened at all when the index lists the same
digest, its size on disk is the size of those bytes and it was last modified before the
index (so nothing edited it since render wrote or checked it). Otherwise its bytes are
compared, and it is written only when they differ. A fresh checkout gives every file a new
modification time: the first render there reads them, and the index's time is moved past
them, so the next render reads none. A file edited and then given an older modification time than
the index, with its size unchanged, is not noticed: delete the index to make render read every file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from modelpins.errors import InvalidInput
from modelpins.serving.emit import HEADER

INDEX = ".modelpins-rendered"
INDEX_HEADER = "# Written by 'modelpins render': the files it rendered here and the directories it created.\n"


@dataclass
class TreeChanges:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Index:
    files: dict[str, str] = field(default_factory=dict)  # path -> digest of its bytes ("" in an older index)
    dirs: frozenset[str] = frozenset()  # created by render, relative to the output directory

    def text(self) -> str:
        lines = [f"{f} {d}".rstrip() for f, d in self.files.items()] + [d + "/" for d in self.dirs]
        return INDEX_HEADER + "".join(line + "\n" for line in sorted(lines))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def check_out(out: Path) -> None:
    """Raise InvalidInput unless `out` is a directory render may own part of."""
    where = out.resolve()
    fix = "pass --out DIR, a directory of its own such as manifests/"
    if where == Path(where.anchor):
        raise InvalidInput(f"--out {out} is the file system root; {fix}")
    if ".git" in where.parts:
        raise InvalidInput(f"--out {out} is inside a .git directory; {fix}")
    if (where / ".git").exists():
        raise InvalidInput(f"--out {out} is the root of a git repository ({where}); {fix}")
    if where.is_dir():
        for found in where.rglob(".git"):
            raise InvalidInput(f"--out {out} contains a git repository ({found.parent}); {fix}")


def read_index(out: Path) -> Index:
    """The index of the last render into `out` (empty when there is none). Entries outside `out` are ignored."""
    path = out / INDEX
    if not path.is_file():
        return Index()
    files: dict[str, str] = {}
    dirs: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        name, _, known = entry.partition(" ")
        rel = PurePosixPath(name.rstrip("/"))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            continue
        if name.endswith("/"):
            dirs.add(rel.as_posix())
        else:
            files[rel.as_posix()] = known.strip()
    return Index(files, frozenset(dirs))


def write_tree(out: Path, files: dict[str, bytes]) -> TreeChanges:
    """Make `out` hold exactly `files` among the files it rendered before; others are left alone."""
    check_out(out)
    changes = TreeChanges()
    previous = read_index(out)
    changes.removed.extend(_remove_stale(out, set(previous.files) - set(files)))
    needed = _parents(files)
    missing = {d for d in needed if not (out / d).is_dir()}
    created = set(previous.dirs) | missing
    out.mkdir(parents=True, exist_ok=True)
    for rel in sorted(missing):  # a directory sorts before those inside it
        (out / rel).mkdir(exist_ok=True)
    checked = _modified(out / INDEX)
    digests: dict[str, str] = {}
    for rel, data in files.items():
        path = out / rel
        digests[rel] = digest(data)
        new = PurePosixPath(rel).parent.as_posix() in missing  # nothing is in a directory made just now
        if not new and _same(path, data, digests[rel] == previous.files.get(rel), checked):
            changes.unchanged.append(rel)
            continue
        path.write_bytes(data)
        changes.written.append(rel)
    _remove_empty_dirs(out, created - needed)
    _write_index(out, Index(digests, frozenset(created & needed)).text())
    return changes


def _parents(files: dict[str, bytes]) -> set[str]:
    """Every directory below the output directory that `files` live in, each once."""
    dirs = {PurePosixPath(rel).parent for rel in files}
    return {p.as_posix() for d in dirs for p in (d, *d.parents) if p.parts}


def _remove_stale(out: Path, stale: set[str]) -> list[str]:
    """Delete the files rendered before and not now, where they still carry the header: ours."""
    removed = []
    for rel in sorted(stale):
        path = out / rel
        if path.is_file() and not path.is_symlink() and path.read_bytes().startswith(HEADER):
            path.unlink()
            removed.append(rel)
    return removed


def _remove_empty_dirs(out: Path, dirs: set[str]) -> None:
    """Remove those of `dirs` (created by a render) that are now empty, deepest first."""
    for rel in sorted(dirs, key=lambda d: d.count("/"), reverse=True):
        directory = out / rel
        if directory.is_dir() and not directory.is_symlink() and not any(directory.iterdir()):
            directory.rmdir()


def _write_index(out: Path, index: str) -> None:
    if not (out / INDEX).is_file() or (out / INDEX).read_text(encoding="utf-8") != index:
        (out / INDEX).write_text(index, encoding="utf-8")
    else:
        os.utime(out / INDEX)  # every listed file now holds its bytes: the next render opens none older than this


def _modified(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _same(path: Path, data: bytes, indexed: bool, checked: int | None) -> bool:
    """Whether `path` holds `data`: from the index and a stat when they vouch for it, else by reading it."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
        return False
    if indexed and checked is not None and st.st_mtime_ns < checked:
        return True
    return path.read_bytes() == data
