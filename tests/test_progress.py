"""Progress on long work: a bar on a terminal (a real pseudo-terminal), a line per 10% in logs, nothing in --json."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

from modelpins import pins, progress
from tests.helpers.cli import run
from tests.helpers.seed import alias_state, seed_model, unique, write_pins

ALIASES = {f"a{i:02d}": 1 + i % 2 for i in range(12)}


def run_on_pty(*args: str | Path, cwd: Path, timeout: float = 180) -> tuple[int, str]:
    """`modelpins ARGS` with stdin, stdout and stderr on one pseudo-terminal; (exit code, all it showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "MODELPINS_HTTP_BACKOFF": "0.05"}
    for name in ("GITHUB_ACTIONS", "NO_COLOR", "CI"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelpins", *map(str, args)], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout), b"".join(chunks).decode("utf-8", "replace")


def twelve_moves(client, workdir: Path) -> str:
    model = unique("progress")
    seed_model(client, model, 2)
    write_pins(workdir / "model_pins.yaml", {model: ALIASES})
    return model


def test_apply_on_a_terminal_shows_a_bar_with_counts_and_time_left(client, mlflow_server, workdir):
    model = twelve_moves(client, workdir)

    code, shown = run_on_pty("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=workdir)

    assert code == 0, shown
    assert "Applied 12 changes" in shown
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)  # colours and cursor moves
    bar = [line for line in plain.replace("\r", "\n").splitlines() if line.startswith("apply ")]
    assert bar, shown
    assert "12/12" in bar[-1] and "left" in bar[-1]
    assert "━" in bar[-1]  # the bar itself
    assert alias_state(client, [model]) == {model: ALIASES}


def test_gate_json_on_a_terminal_is_only_json(client, mlflow_server, workdir):
    twelve_moves(client, workdir)

    code, shown = run_on_pty("--tracking-uri", mlflow_server.url, "gate", "--json", "--no-record", cwd=workdir)
    assert code == 0, shown
    assert len(json.loads(shown)["changes"]) == 12  # nothing but the JSON document reached the terminal

    code, shown = run_on_pty("--tracking-uri", mlflow_server.url, "gate", "--no-record", cwd=workdir)
    assert code == 0, shown
    assert "12/12" in shown and "gate " in shown


def test_logs_get_a_line_every_10_percent(client, mlflow_server, workdir):
    twelve_moves(client, workdir)

    result = run("--tracking-uri", mlflow_server.url, "apply", "--yes", cwd=workdir)

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("apply: ")]
    assert [line.split()[1] for line in lines] == [f"{p}%" for p in range(10, 101, 10)]
    assert lines[-1].startswith("apply: 100% (12/12), ") and lines[-1].endswith("s left")
    assert "\x1b[" not in result.stderr  # no terminal control codes in a log
    assert "apply" not in result.stdout.replace("Applied", "")


def test_few_quick_items_show_nothing_and_disabled_shows_nothing() -> None:
    out = io.StringIO()
    with progress.shown("render", 3, stream=out) as step:
        for name in ("a", "b", "c"):
            step(name)
    with progress.shown("gate", 50, stream=out, enabled=False) as step:
        for i in range(50):
            step(str(i))
    assert out.getvalue() == ""


def test_render_on_a_terminal_counts_deployments(tmp_path: Path) -> None:
    golden = Path(__file__).parent / "serving" / "golden" / "model_pins.yaml"
    (tmp_path / "deploy").mkdir()
    shutil.copy(Path(__file__).parents[1] / "deploy" / "Dockerfile", tmp_path / "deploy" / "Dockerfile")
    shutil.copy(golden, tmp_path / "model_pins.yaml")
    count = len(pins.load(golden).deployments)
    assert count > progress.FEW

    code, shown = run_on_pty("render", cwd=tmp_path)

    assert code == 0, shown
    assert f"Rendered {count} deployments" in shown
    assert f"{count}/{count}" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)


def test_lock_shows_progress_on_a_terminal_and_plain_lines_in_a_log(client, mlflow_server, workdir):
    model = unique("progress-lock")
    seed_model(client, model, 10)
    write_pins(workdir / "model_pins.yaml", {model: {f"a{n}": n for n in range(1, 11)}})

    code, shown = run_on_pty("--tracking-uri", mlflow_server.url, "lock", "--refresh", cwd=workdir)
    assert code == 0, shown
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)
    bar = [line for line in plain.replace("\r", "\n").splitlines() if line.startswith("lock ")]
    assert bar and "10/10" in bar[-1], shown

    logged = run("--tracking-uri", mlflow_server.url, "lock", "--refresh", cwd=workdir)
    assert logged.returncode == 0, logged.stderr
    lines = [line for line in logged.stderr.splitlines() if line.startswith("lock: ")]
    assert lines and lines[-1].startswith("lock: 100% (10/10), "), logged.stderr
    assert "\x1b[" not in logged.stderr + logged.stdout
    assert logged.stdout.count("\n") == 1 and "10 versions locked (10 hashed" in logged.stdout  # piped: the result only
