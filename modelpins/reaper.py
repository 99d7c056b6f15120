"""The reaper a gate or hook runs under on Linux: every process the command starts ends when it ends.

`python -I -S reaper.py STATUS_FD PROGRAM [ARG...]` makes itself a child subreaper
(prctl PR_SET_CHILD_SUBREAPER), starts PROGRAM and waits for it. A descendant that leaves its
process group and session (setsid) and is orphaned by a second fork is re-parented to the
reaper, not to init, so the reaper's process tree always holds every descendant. When PROGRAM
exits, the reaper kills what is left of that tree with SIGKILL, reaps it, and exits with
PROGRAM's status (re-raising the signal that killed it). modelpins.proc kills the same tree
at the deadline. If modelpins itself dies, the reaper gets SIGTERM (PR_SET_PDEATHSIG) and
does the same.

It reports on STATUS_FD the errno of a PROGRAM that cannot be started (and exits 127), or
closes it once PROGRAM runs. Standard library only: it runs with `-I -S`, outside the package.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> bool:
    """prctl(2) through libc; False where there is none."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children(pid: int) -> list[int]:
    """The live children of `pid` (Linux /proc)."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(k) for k in listing.read_text().split()]
    return found


def sweep() -> None:
    """SIGKILL every remaining descendant and reap it; orphans of the killed come to us and are killed in turn."""
    me = os.getpid()
    while True:
        for pid in children(me):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def on_term(signum: int, frame: object) -> None:
    sweep()
    os._exit(128 + signum)


def wait_for(child: int) -> int:
    """The wait status of `child`, reaping whatever else is re-parented to us meanwhile."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if pid == child:
            return status


def relay(status: int) -> int:
    """Exit as the program did: its exit code, or the signal that killed it."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP cannot be set
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.waitstatus_to_exitcode(status)


def main(argv: list[str]) -> int:
    status_fd, command = int(argv[1]), argv[2:]
    os.set_inheritable(status_fd, False)  # closed at the program's exec: only we hold it open
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    try:
        child = os.posix_spawnp(command[0], command, dict(os.environ), setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
    except OSError as exc:
        os.write(status_fd, str(exc.errno or 0).encode())
        return 127
    os.close(status_fd)
    status = wait_for(child)
    sweep()
    return relay(status)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
