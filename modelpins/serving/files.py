"""Writing a rendered tree: only files that changed, and removing rendered files no longer produced.

What render owns in the output directory is listed in its index, `.modelpins-rendered`: the
files of the last render, and the directories render created for them. Only files listed
there (and still carrying the render header) are ever deleted, and only listed directories,
once empty, are removed; everything else in the directory is left alone. An output directory
that is `/`, a repository (or holds one), or lies inside `.git` is refused before anything
is read or written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from modelpins.errors import InvalidInput
from modelpins.serving.render import HEADER

INDEX = ".modelpins-rendered"
INDEX_HEADER = "# Written by 'modelpins render': the files it rendered here and the directories it created.\n"


@dataclass
class TreeChanges:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0


@dataclass(frozen=True)
class Index:
    files: frozenset[str] = frozenset()
    dirs: frozenset[str] = frozenset()  # created by render, relative to the output directory

    def text(self) -> str:
        lines = sorted(self.files) + sorted(d + "/" for d in self.dirs)
        return INDEX_HEADER + "".join(line + "\n" for line in sorted(lines))


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
    files: set[str] = set()
    dirs: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        rel = PurePosixPath(entry.rstrip("/"))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            continue
        (dirs if entry.endswith("/") else files).add(rel.as_posix())
    return Index(frozenset(files), frozenset(dirs))


def write_tree(out: Path, files: dict[str, bytes]) -> TreeChanges:
    """Make `out` hold exactly `files` among the files it rendered before; others are left alone."""
    check_out(out)
    changes = TreeChanges()
    previous = read_index(out)
    for rel in sorted(previous.files - set(files)):
        path = out / rel
        if path.is_file() and not path.is_symlink() and path.read_bytes().startswith(HEADER):
            path.unlink()
            changes.removed.append(rel)
    created = set(previous.dirs)
    for rel in sorted(files):
        for parent in reversed(PurePosixPath(rel).parents[:-1]):
            if not (out / parent).is_dir():
                created.add(parent.as_posix())
    if not out.is_dir():
        out.mkdir(parents=True)
    for rel, data in files.items():
        path = out / rel
        if path.exists() and path.read_bytes() == data:
            changes.unchanged += 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        changes.written.append(rel)
    needed = {p.as_posix() for rel in files for p in PurePosixPath(rel).parents[:-1]}
    for rel in sorted(created - needed, key=lambda d: d.count("/"), reverse=True):
        directory = out / rel
        if directory.is_dir() and not directory.is_symlink() and not any(directory.iterdir()):
            directory.rmdir()
    index = Index(frozenset(files), frozenset(created & needed)).text()
    if not (out / INDEX).is_file() or (out / INDEX).read_text(encoding="utf-8") != index:
        (out / INDEX).write_text(index, encoding="utf-8")
    return changes
