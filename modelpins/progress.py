"""Progress of long work: core functions call `progress(label)` once per item done; the CLI shows it.

Core functions take `progress: Step = noop` and stay silent. The CLI wraps a call in
`shown(what, total)`: on a terminal a bar with counts and time left (rich); elsewhere
(CI logs) one line at every 10%; with `enabled=False` (`--json`) nothing at all. Work of
up to FEW items shows nothing unless it is still running after SLOW seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

Step = Callable[[str], None]
T = TypeVar("T")

FEW = 3
SLOW = 1.0


def noop(label: str = "") -> None:
    """The default `progress`: report nothing."""


def each(items: Iterable[T], step: Step, label: Callable[[T], str] = str) -> Iterator[T]:
    """`items`, calling `step` after each one's work is done (when the loop asks for the next, `continue` too)."""
    for item in items:
        yield item
        step(label(item))


@contextmanager
def shown(what: str, total: int, *, enabled: bool = True, stream: TextIO | None = None) -> Iterator[Step]:
    """A `progress` callback for `total` items of `what`, shown on `stream` (default stderr) while the block runs."""
    out = stream or sys.stderr
    if not enabled or total <= 0:
        yield noop
        return
    reporter: _Bar | _Lines = _Bar(what, total, out) if out.isatty() else _Lines(what, total, out)
    try:
        yield reporter.step
    finally:
        reporter.close()


class _Lines:
    """For logs: `what: 40% (4/10), 3s elapsed, about 5s left`, once per 10% crossed."""

    def __init__(self, what: str, total: int, out: TextIO):
        self.what, self.total, self.out = what, total, out
        self.done, self.tenths = 0, 0
        self.started = time.monotonic()

    def step(self, label: str = "") -> None:
        self.done = min(self.done + 1, self.total)
        tenths = self.done * 10 // self.total
        elapsed = time.monotonic() - self.started
        if tenths <= self.tenths or (self.total <= FEW and elapsed < SLOW):
            return
        self.tenths = tenths
        left = elapsed / self.done * (self.total - self.done)
        self.out.write(
            f"{self.what}: {tenths * 10}% ({self.done}/{self.total}), {elapsed:.0f}s elapsed, about {left:.0f}s left\n"
        )
        self.out.flush()

    def close(self) -> None:
        pass


class _Bar:
    """For a terminal: a rich progress bar, started at once for many items, after SLOW seconds for a few."""

    def __init__(self, what: str, total: int, out: TextIO):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(file=out),
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.task = self.bar.add_task(what, total=total)
        self.lock = threading.Lock()
        self.live = False
        self.timer: threading.Timer | None = None
        if total > FEW:
            self._start()
        else:
            self.timer = threading.Timer(SLOW, self._start)
            self.timer.daemon = True
            self.timer.start()

    def _start(self) -> None:
        with self.lock:
            if not self.live:
                self.live = True
                self.bar.start()

    def step(self, label: str = "") -> None:
        self.bar.advance(self.task)

    def close(self) -> None:
        if self.timer:
            self.timer.cancel()
        with self.lock:
            if self.live:
                self.bar.refresh()
                self.bar.stop()
            self.live = True  # a timer firing late must not start it again
