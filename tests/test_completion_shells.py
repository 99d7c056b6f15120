"""Completion as a person meets it: a real interactive shell in a pseudo-terminal, the TAB key, readline.

Setting COMP_WORDS by hand (tests/test_completion.py) skips what the shell does first: bash splits the word at
the characters of COMP_WORDBREAKS, among them '@' and ':', so `credit-scorer@cham<TAB>` reaches the completion
function as three words. Here the shell does its own splitting, as it does for a user.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.seed import write_pins

BIN = Path(sys.executable).parent
MODELS = {"credit-scorer": {"champion": 2, "challenger": 3}, "fraud": {"champion": 1}}


def script(shell: str, cwd: Path) -> str:
    out = subprocess.run(
        [str(BIN / "modelpins")],
        env={**os.environ, "_MODELPINS_COMPLETE": f"{shell}_source"},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def typed(shell: list[str], rc: str, keys: str, cwd: Path, env: dict[str, str]) -> str:
    """Start `shell` in a pty, load `rc`, type `keys`, then print the line the shell would run; return all output."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell, in the test's directory
        os.chdir(cwd)
        os.execvpe(shell[0], shell, env)
    out = b""

    def read(idle: float, most: float = 15) -> None:
        """Read until the shell has been quiet for `idle` seconds (a TAB runs modelpins once)."""
        nonlocal out
        end, quiet_since = time.monotonic() + most, time.monotonic()
        while time.monotonic() < end and time.monotonic() - quiet_since < idle:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    return
                quiet_since = time.monotonic()

    try:
        os.write(fd, rc.encode())
        read(1.0)
        os.write(fd, keys.encode())
        read(2.0)
        # C-a, then `echo '[` before the line and `]'` after it (C-e): the shell prints the completed line
        os.write(fd, b"\x01echo '[\x05]'\r")
        read(1.0)
        os.write(fd, b"exit\r")
        read(0.5, most=3)
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    return out.decode(errors="replace")


def env_for(home: Path) -> dict[str, str]:
    return {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "INPUTRC": "/dev/null",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local"),
    }


def completed_line(output: str) -> str:
    lines = [line.lstrip("$ ") for line in output.replace("\r", "\n").splitlines()]
    echoed = [line for line in lines if line.startswith("[modelpins ") and line.rstrip().endswith("]")]
    assert echoed, output[-2000:]
    return echoed[-1].rstrip()[1:-1]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ("modelpins pro\t", "modelpins promote "),
        ("modelpins promote cre\t", "modelpins promote credit-scorer@cha"),  # the common prefix
        ("modelpins promote credit-scorer@cham\t", "modelpins promote credit-scorer@champion "),
        ("modelpins history credit-scorer@chal\t", "modelpins history credit-scorer@challenger "),
        ("modelpins rollback fraud@\t", "modelpins rollback fraud@champion "),
    ],
)
def test_bash_completes_through_readline_including_after_at(tmp_path: Path, keys: str, expected: str) -> None:
    bash = shutil.which("bash")
    assert bash, "bash is part of the machine"
    write_pins(tmp_path / "model_pins.yaml", MODELS)
    (tmp_path / "completion.bash").write_text(script("bash", tmp_path))
    rc = "PS1='$ '; bind 'set show-all-if-ambiguous off'; source completion.bash\r"
    out = typed([bash, "--norc", "--noprofile", "-i"], rc, keys, tmp_path, env_for(tmp_path))
    assert completed_line(out) == expected


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_complete_after_at(tmp_path: Path, shell: str) -> None:
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed (make test installs it with apt where it can)")
    write_pins(tmp_path / "model_pins.yaml", MODELS)
    (tmp_path / f"completion.{shell}").write_text(script(shell, tmp_path))
    if shell == "zsh":
        argv = [exe, "-f", "-i"]
        rc = "PS1='$ '; autoload -Uz compinit; compinit -u; source completion.zsh\r"
    else:
        argv = [exe, "--no-config", "-i"]
        rc = "function fish_prompt; echo '$ '; end; source completion.fish\r"
    out = typed(argv, rc, "modelpins promote credit-scorer@cham\t", tmp_path, env_for(tmp_path))
    assert completed_line(out).rstrip() == "modelpins promote credit-scorer@champion"  # zsh drops the space at C-a
