"""One error tree. The CLI maps each class to an exit code; nothing else exits.

Exit codes: 0 ok, 1 a gate or an operation failed, 2 invalid input or usage,
3 unexpected (a bug: rerun with --traceback).
"""

from __future__ import annotations

from dataclasses import dataclass


class ModelPinsError(Exception):
    exit_code = 3


class OperationFailed(ModelPinsError):
    """The input was fine but the work could not be done (server down, write refused)."""

    exit_code = 1


class RegistryUnavailable(OperationFailed):
    """The MLflow server did not answer, or kept failing, after retries."""


class GateFailed(OperationFailed):
    """A promotion gate did not pass."""


class InvalidInput(ModelPinsError):
    """The user's input (file, flag, reference) is wrong; nothing was changed."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, located at `path:line`, with the fix."""

    path: str
    line: int
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path  # line 0: the file as a whole
        text = f"{where}: {visible(self.message)}"
        return f"{text}\n  fix: {visible(self.fix)}" if self.fix else text


def visible(text: str) -> str:
    """`text` on one line, what cannot be seen in it (a line break, a tab, a zero-width space) written as escapes."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class InvalidPins(InvalidInput):
    """model_pins.yaml (or another input file) broke one or more rules."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.path, p.line))
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found:"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))
