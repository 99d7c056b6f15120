"""Child processes with a deadline and bounded output (gate scripts, drift hooks).

The child runs in its own session (`start_new_session=True` in Popen). On Linux it runs under
modelpins/reaper.py, a child subreaper: a descendant that escapes with setsid and a second fork
is re-parented to the reaper, so it stays in the tree; when the command exits, the reaper
kills what it left behind. At the deadline every process of that tree and the process group
get SIGKILL (the reaper last), and reading stops even if something still holds the pipes open.
Elsewhere (no prctl) the command runs directly and only the descendants still linked to it
and its group are reached. docs/explanation/gate-processes.md says what is guaranteed where.
Only the last bytes of each stream are kept, so a chatty child cannot grow our memory.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

STDERR_KEEP = 64 * 1024  # bytes of stderr kept
CHUNK = 64 * 1024
KILL_ROUNDS = 100  # listings of the tree at the deadline, at most (each kills all it lists)
EXIT_GRACE = 1.0  # seconds to drain output after the child exits (a detached grandchild may hold the pipe)


class Tail:
    """The last `limit` bytes written to it, in one buffer of at most twice `limit` (amortised O(1) per byte)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.data = bytearray()

    def add(self, chunk: bytes | memoryview) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit:
            del self.data[: len(self.data) - self.limit]

    def bytes(self) -> bytes:
        return bytes(self.data[-self.limit :])


def collect(
    proc: subprocess.Popen[bytes], data: bytes, timeout: float, keep: int = 64 * 1024
) -> tuple[bytes, bytes, bool]:
    """Feed `data` to stdin and read stdout and stderr until the process ends or `timeout` passes.

    Returns the last `keep` bytes of stdout, the last STDERR_KEEP bytes of stderr and whether
    the process ended in time. After the process exits, output still arriving is read for at
    most EXIT_GRACE seconds.
    """
    assert proc.stdin and proc.stdout and proc.stderr
    deadline = time.monotonic() + timeout
    out, err = Tail(keep), Tail(STDERR_KEEP)
    tails = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    threading.Thread(target=_feed, args=(proc.stdin, data), daemon=True).start()
    finished = False
    with selectors.DefaultSelector() as sel:
        for stream in (proc.stdout, proc.stderr):
            sel.register(stream, selectors.EVENT_READ)
        while sel.get_map():
            if not finished and proc.poll() is not None:
                finished = True
                deadline = min(deadline, time.monotonic() + EXIT_GRACE)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(min(left, 0.1)):
                n = os.readv(key.fd, [buffer])  # into one reused buffer: no allocation per read
                if n:
                    tails[key.fd].add(view[:n])
                else:
                    sel.unregister(key.fileobj)
    if not finished:  # both pipes closed: the process is ending, or has until the deadline to
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, deadline - time.monotonic()))
    finished = finished or proc.poll() is not None
    if not finished:
        _kill(proc)
    for stream in (proc.stdout, proc.stderr):
        stream.close()
    proc.wait()
    return out.bytes(), err.bytes(), finished


REAPER = Path(__file__).with_name("reaper.py")
REAPS = sys.platform.startswith("linux")  # PR_SET_CHILD_SUBREAPER is Linux's (since 3.4)


def start(argv: list[str], cwd: Path | str | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `argv` (no shell) in its own session with all three streams piped; OSError if it cannot run.

    On Linux the process returned is the reaper, which runs `argv` as its child (see the module docstring).
    """
    if not REAPS:
        return _popen(argv, cwd, env, ())
    report, status = os.pipe()
    try:
        proc = _popen([sys.executable, "-I", "-S", str(REAPER), str(status), *argv], cwd, env, (status,))
    finally:
        os.close(status)
    with os.fdopen(report, "rb") as reader:
        failed = reader.read()  # empty once the command runs (the reaper closed its end)
    if failed:
        _kill(proc)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.wait()
        code = int(failed)
        raise OSError(code, os.strerror(code), argv[0])
    return proc


def _popen(
    argv: list[str], cwd: Path | str | None, env: dict[str, str] | None, fds: tuple[int, ...]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        pass_fds=fds,
    )


def _feed(stdin: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError):  # the script may exit without reading its input
        stdin.write(data)
    with contextlib.suppress(OSError):
        stdin.close()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process's descendants (also those that left its group), then it and its group.

    Rounds repeat until no descendant is left: one forked between a listing and its kill is
    re-parented to the reaper (still alive until the end) and found in the next round.
    """
    for _ in range(KILL_ROUNDS):
        pids = [pid for pid in _descendants(proc.pid) if not _zombie(pid)]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)  # the reaper reaps them
    with contextlib.suppress(OSError):
        os.kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    """Whether `pid` has ended and waits to be reaped (or is gone): nothing left to kill."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] in ("Z", "X")


def _descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (Linux /proc; empty elsewhere)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                kids = [int(k) for k in children.read_text().split()]
                found += kids
                todo += kids
    return found
