"""Run `modelpins` as a separate process, the way a user or a workflow step does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path


def run(
    *args: object,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "MODELPINS_HTTP_BACKOFF": "0.05", **(env or {})}
    for var in ("GITHUB_ACTIONS", "CI"):  # a test says when it runs as CI
        full_env.pop(var, None) if var not in (env or {}) else None
    return subprocess.run(
        [sys.executable, "-m", "modelpins", *map(str, args)],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(*args: str | Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """`modelpins ARGS` in the background (for tests that act on the world while it runs)."""
    full_env = {**os.environ, "MODELPINS_HTTP_BACKOFF": "0.05", **(env or {})}
    for var in ("GITHUB_ACTIONS", "CI"):
        full_env.pop(var, None) if var not in (env or {}) else None
    return subprocess.Popen(
        [sys.executable, "-m", "modelpins", *map(str, args)],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)
