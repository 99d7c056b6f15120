"""Guarded writes: every file modelpins writes, one at a time or as a tree below an output directory.

Nothing is written through a symbolic link. Below an output directory each directory is opened
relative to its parent with O_NOFOLLOW, and each file with O_NOFOLLOW, so a link anywhere on the
path (a linked subdirectory, a linked file) is refused with InvalidInput, never followed; the
output directory itself may be a link, since the user named it. A single file (a pins file, a
lock, a card) is replaced atomically, keeping its mode, and is refused when it is a link or not a
regular file: pass the file a link points to instead. Which files a tree writer owns, and so may
overwrite or delete, is decided by its caller (see `outtree`).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath
from types import TracebackType

from modelpins.errors import InvalidInput

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_LINK_ERRORS = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)


class Tree:
    """An output directory, opened once; every path below it is reached one directory at a time, never via a link."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
            self._fds: dict[str, int | None] = {".": os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)}
        except OSError as exc:
            why = f"cannot use it as a directory ({exc.strerror})"
            raise InvalidInput(f"--out {root}: {why}; fix: pass a directory") from None
        self.made: list[str] = []  # directories created, in order

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for fd in self._fds.values():
            if fd is not None:
                os.close(fd)
        self._fds.clear()

    def dir_fd(self, rel: str, create: bool = False) -> int | None:
        """The open directory `rel` (None when missing and not `create`); InvalidInput when a part is a link."""
        if rel in self._fds and (self._fds[rel] is not None or not create):
            return self._fds[rel]
        parent_rel = PurePosixPath(rel).parent.as_posix()
        parent = self.dir_fd(parent_rel, create)
        if parent is None:
            self._fds[rel] = None
            return None
        name = PurePosixPath(rel).name
        try:
            fd: int | None = os.open(name, _DIR, dir_fd=parent)
        except FileNotFoundError:
            fd = None
            if create:
                os.mkdir(name, dir_fd=parent)
                self.made.append(rel)
                fd = os.open(name, _DIR, dir_fd=parent)
        except OSError as exc:
            if exc.errno in _LINK_ERRORS:
                raise InvalidInput(self._not_a_dir(rel)) from None
            raise
        self._fds[rel] = fd
        return fd

    def _not_a_dir(self, rel: str) -> str:
        what = "a symbolic link" if (self.root / rel).is_symlink() else "not a directory"
        return (
            f"{self.root / rel} is {what}; modelpins never writes through a link or over a file it did not write, "
            f"and nothing was written. Fix: remove or move {self.root / rel}, or pass another --out"
        )

    def where(self, rel: str) -> tuple[int | None, str]:
        """(the open parent directory of `rel` or None when it does not exist yet, the file's name)."""
        path = PurePosixPath(rel)
        return self.dir_fd(path.parent.as_posix()), path.name

    def lstat(self, rel: str) -> os.stat_result | None:
        fd, name = self.where(rel)
        if fd is None:
            return None
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read(self, rel: str, size: int = -1) -> bytes:
        fd, name = self.where(rel)
        if fd is None:
            raise FileNotFoundError(rel)
        handle = os.open(name, _READ, dir_fd=fd)
        with os.fdopen(handle, "rb") as f:
            return f.read(size)

    def write(self, rel: str, data: bytes) -> None:
        fd, name = self.where(rel)
        if fd is None:
            fd = self.dir_fd(PurePosixPath(rel).parent.as_posix(), create=True)
        try:
            handle = os.open(name, _WRITE, 0o666, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                raise InvalidInput(self._not_a_dir(rel).replace("not a directory", "not a regular file")) from None
            raise
        try:  # os.write, not a file object: no fstat, lseek and ioctl for each file
            written = 0
            while written < len(data):
                written += os.write(handle, data[written:])
        finally:
            os.close(handle)

    def unlink(self, rel: str) -> None:
        fd, name = self.where(rel)
        if fd is not None:
            os.unlink(name, dir_fd=fd)

    def rmdir(self, rel: str) -> bool:
        """Remove the directory `rel` when it is empty (and neither it nor a parent is a link); whether it was."""
        try:
            fd, name = self.where(rel)
            if fd is None:
                return False
            os.rmdir(name, dir_fd=fd)
        except (OSError, InvalidInput):
            return False
        self._close(rel)
        return True

    def touch(self, rel: str) -> None:
        fd, name = self.where(rel)
        os.utime(name, dir_fd=fd, follow_symlinks=False)

    def entries(self) -> list[str]:
        fd = self._fds["."]
        assert fd is not None
        return sorted(os.listdir(fd))

    def _close(self, rel: str) -> None:
        for key in [k for k in self._fds if k == rel or k.startswith(rel + "/")]:
            fd = self._fds.pop(key)
            if fd is not None:
                os.close(fd)


def is_regular(st: os.stat_result | None) -> bool:
    return st is not None and stat.S_ISREG(st.st_mode)


def check_plain_file(path: Path, what: str = "the file") -> None:
    """InvalidInput when `path` exists and is a symbolic link or not a regular file: never written through."""
    try:
        st = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        raise InvalidInput(
            f"{path} is a symbolic link (to {target}); modelpins does not write through or replace a link, and "
            f"nothing was written. Fix: pass the file itself as {what} ({path.parent / target})"
        )
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInput(f"{path} is not a regular file; nothing was written. Fix: pass a file path as {what}")


def write_file(path: Path, data: bytes | str, what: str = "the file") -> None:
    """Replace `path` with `data` atomically (its mode kept); InvalidInput when it is a link or not a regular file."""
    check_plain_file(path, what)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    tmp = path.with_name(f".{path.name}.modelpins-{os.getpid()}")
    try:
        handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        tmp.unlink()  # a leftover of a killed run with this pid; O_EXCL then makes a new one
        handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(raw)
            if mode is not None:
                os.fchmod(f.fileno(), mode)
        check_plain_file(path, what)  # a link made meanwhile is refused, not replaced
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
