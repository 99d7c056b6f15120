"""Shell completion through click's protocol, as the shells call it: commands, and MODEL@ALIAS from the pins file."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import run
from tests.helpers.seed import write_pins


def complete(cwd: Path, words: str, shell: str = "bash") -> list[str]:
    """What `modelpins` offers for the last word of `words` (bash's COMP_WORDS/COMP_CWORD protocol)."""
    parts = words.split(" ")
    env = {"_MODELPINS_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
    result = run(cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    return [line.partition(",")[2] for line in result.stdout.splitlines() if line]


def test_commands_complete(workdir: Path) -> None:
    assert complete(workdir, "modelpins pro") == ["promote"]
    assert {"import", "promote", "rollback", "apply"} <= set(complete(workdir, "modelpins "))


def test_model_at_alias_completes_from_the_pins_file(workdir: Path) -> None:
    write_pins(workdir / "model_pins.yaml", {"credit-risk": {"champion": 2, "challenger": 3}, "fraud": {"champion": 1}})

    assert complete(workdir, "modelpins promote cr") == ["credit-risk@champion", "credit-risk@challenger"]
    assert complete(workdir, "modelpins rollback fraud@") == ["fraud@champion"]
    assert complete(workdir, "modelpins history ") == [
        "credit-risk@champion",
        "credit-risk@challenger",
        "fraud@champion",
    ]


def test_completion_reads_the_file_given_by_pins(workdir: Path) -> None:
    write_pins(workdir / "other.yaml", {"ranker": {"shadow": 4}})
    assert complete(workdir, "modelpins --pins other.yaml promote ") == ["ranker@shadow"]
    assert complete(workdir, "modelpins promote ") == []  # no model_pins.yaml here: nothing, and no error


def test_shell_scripts_are_generated(workdir: Path) -> None:
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete --no-files")):
        result = run(cwd=workdir, env={"_MODELPINS_COMPLETE": f"{shell}_source"})
        assert result.returncode == 0, result.stderr
        assert "_MODELPINS_COMPLETE" in result.stdout and marker in result.stdout
