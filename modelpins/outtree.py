"""Writing a generated tree into an output directory: only files that changed, and only files it owns.

What a writer (render, site) owns in its output directory is listed in its index (render's is
`.modelpins-rendered`): the files it last wrote, each with a digest of their bytes (`PATH
SHA256[:32]`), and the directories it created for them. A file already there is overwritten only
when the index lists it or it starts with the writer's header; any other file of the same name is
the user's, and the whole write is refused (InvalidInput, exit 2) before anything is written. A
file no longer produced is deleted only when it still carries the header or the bytes the index
recorded; a directory only when the writer created it for files it listed, and it is empty. Every
path is reached through `safe_write.Tree`: never through a link, never outside the directory.
An output directory that is `/`, a repository (or holds one), or lies inside `.git` is refused
before anything is read or written; a writer that is `fresh_only` (site) also refuses a first
write into a directory that already holds files.

A file whose new bytes are unchanged is not opened at all when the index lists the same
digest, its size on disk is the size of those bytes and it was last modified before the
index (so nothing edited it since it was written or checked). Otherwise its bytes are
compared, and it is written only when they differ. A fresh checkout gives every file a new
modification time: the first write there reads them, and the index's time is moved past
them, so the next reads none. A file edited and then given an older modification time than
the index, with its size unchanged, is not noticed: delete the index to make render read every file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from modelpins.errors import InvalidInput
from modelpins.safe_write import Tree, is_regular


@dataclass(frozen=True)
class Owner:
    command: str  # e.g. "modelpins render"
    index: str  # the index's file name in the output directory
    header: bytes | None = None  # every file the writer produces starts with it (None: only the index proves)
    fresh_only: bool = False  # refuse a first write into a directory that holds anything
    index_header: str = "# Written by modelpins: the files it wrote here and the directories it created.\n"


@dataclass
class TreeChanges:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Index:
    files: dict[str, str] = field(default_factory=dict)  # path -> digest of its bytes ("" in an older index)
    dirs: frozenset[str] = frozenset()  # created by the writer, relative to the output directory
    found: bool = False

    def text(self, header: str) -> str:
        lines = [f"{f} {d}".rstrip() for f, d in self.files.items()] + [d + "/" for d in self.dirs]
        return header + "".join(line + "\n" for line in sorted(lines))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def check_out(out: Path) -> None:
    """Raise InvalidInput unless `out` is a directory a writer may own part of."""
    where = out.resolve()
    fix = "pass --out DIR, a directory of its own such as manifests/"
    if where == Path(where.anchor):
        raise InvalidInput(f"--out {out} is the file system root; {fix}")
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out} exists and is not a directory; {fix}")
    if ".git" in where.parts:
        raise InvalidInput(f"--out {out} is inside a .git directory; {fix}")
    if (where / ".git").exists():
        raise InvalidInput(f"--out {out} is the root of a git repository ({where}); {fix}")
    if where.is_dir():
        for found in where.rglob(".git"):
            raise InvalidInput(f"--out {out} contains a git repository ({found.parent}); {fix}")


def parse_index(text: str) -> Index:
    """The entries of an index's text; entries outside the output directory are ignored."""
    files: dict[str, str] = {}
    dirs: set[str] = set()
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        name, _, known = entry.partition(" ")
        rel = PurePosixPath(name.rstrip("/"))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or rel.as_posix() == ".":
            continue
        if name.endswith("/"):
            dirs.add(rel.as_posix())
        else:
            files[rel.as_posix()] = known.strip()
    return Index(files, frozenset(dirs), True)


def _read_index(tree: Tree, owner: Owner) -> Index:
    st = tree.lstat(owner.index)
    if st is None:
        return Index()
    if not is_regular(st):
        raise InvalidInput(
            f"{tree.root / owner.index} is not a regular file (a link?); it is {owner.command}'s index and is never "
            f"written through. Nothing was written. Fix: remove it, or pass another --out"
        )
    return parse_index(tree.read(owner.index).decode("utf-8", "replace"))


def read_index(out: Path, owner: Owner) -> Index:
    """The index of the last write into `out` (empty when there is none)."""
    if not out.is_dir():
        return Index()
    with Tree(out) as tree:
        return _read_index(tree, owner)


def write_tree(out: Path, files: dict[str, bytes], owner: Owner) -> TreeChanges:
    """Make `out` hold exactly `files` among the files `owner` wrote before; others are left alone."""
    check_out(out)
    with Tree(out) as tree:
        previous = _read_index(tree, owner)
        if owner.fresh_only and not previous.found:
            _check_empty(tree, owner)
        found = _preflight(tree, files, previous, owner)
        changes = TreeChanges(removed=_remove_stale(tree, previous, set(previous.files) - set(files), owner))
        needed = _parents(files)
        checked = found.get(owner.index)
        checked_ns = checked.st_mtime_ns if checked is not None else None
        digests: dict[str, str] = {}
        for rel, data in files.items():
            digests[rel] = digest(data)
            st = found.get(rel)
            if st is not None and _same(tree, rel, st, data, digests[rel] == previous.files.get(rel), checked_ns):
                changes.unchanged.append(rel)
                continue
            tree.write(rel, data)
            changes.written.append(rel)
        created = (previous.dirs & _parents(dict.fromkeys(previous.files, b""))) | set(tree.made)
        for rel in sorted(created - needed, key=lambda d: d.count("/"), reverse=True):
            tree.rmdir(rel)  # only when empty
        _write_index(tree, owner, Index(digests, frozenset(created & needed)).text(owner.index_header))
    return changes


def _check_empty(tree: Tree, owner: Owner) -> None:
    held = tree.entries()
    if held:
        shown = ", ".join(held[:5]) + (" ..." if len(held) > 5 else "")
        raise InvalidInput(
            f"--out {tree.root} already holds files that {owner.command} did not write ({shown}); nothing was "
            f"written. Fix: pass a new or empty directory, e.g. --out site/"
        )


def _preflight(tree: Tree, files: dict[str, bytes], previous: Index, owner: Owner) -> dict[str, os.stat_result]:
    """Each existing file to be written, with its stat; InvalidInput for a link or a file the writer did not write."""
    found: dict[str, os.stat_result] = {}
    for rel in [owner.index, *files]:
        st = tree.lstat(rel)  # every directory on the way is opened without following links
        if st is None:
            continue
        if not is_regular(st):
            raise InvalidInput(_refusal(tree, rel, owner, "is a symbolic link or not a regular file"))
        if rel != owner.index and rel not in previous.files and not _has_header(tree, rel, owner):
            raise InvalidInput(_refusal(tree, rel, owner, f"exists and was not written by {owner.command}"))
        found[rel] = st
    return found


def _refusal(tree: Tree, rel: str, owner: Owner, what: str) -> str:
    return (
        f"{tree.root / rel} {what} (not in its index {owner.index}); nothing was written. "
        f"Fix: move or remove {tree.root / rel}, or pass another --out"
    )


def _has_header(tree: Tree, rel: str, owner: Owner) -> bool:
    return owner.header is not None and tree.read(rel, len(owner.header)) == owner.header


def _parents(files: dict[str, bytes]) -> set[str]:
    """Every directory below the output directory that `files` live in, each once."""
    dirs = {PurePosixPath(rel).parent for rel in files}
    return {p.as_posix() for d in dirs for p in (d, *d.parents) if p.parts}


def _remove_stale(tree: Tree, previous: Index, stale: set[str], owner: Owner) -> list[str]:
    """Delete the files written before and not now, where they still carry the header or the indexed bytes: ours."""
    removed = []
    for rel in sorted(stale):
        try:
            if not is_regular(tree.lstat(rel)):
                continue
            data = tree.read(rel)
        except InvalidInput:  # a linked directory on the way: outside, ignored
            continue
        known = previous.files.get(rel)
        if (owner.header is not None and data.startswith(owner.header)) or (known and digest(data) == known):
            tree.unlink(rel)
            removed.append(rel)
    return removed


def _write_index(tree: Tree, owner: Owner, index: str) -> None:
    st = tree.lstat(owner.index)
    if st is None or tree.read(owner.index).decode("utf-8", "replace") != index:
        tree.write(owner.index, index.encode("utf-8"))
    else:
        tree.touch(owner.index)  # every listed file now holds its bytes: the next write opens none older than this


def _same(tree: Tree, rel: str, st: os.stat_result, data: bytes, indexed: bool, checked: int | None) -> bool:
    """Whether `rel` holds `data`: from the index and a stat when they vouch for it, else by reading it."""
    if st.st_size != len(data):
        return False
    if indexed and checked is not None and st.st_mtime_ns < checked:
        return True
    return tree.read(rel) == data
