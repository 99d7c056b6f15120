"""GitHub Actions I/O in one place: annotations, step outputs and the job summary.

Workflow commands are escaped as the runner expects, so text from a pull request
(file contents, model names) can never start a command of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from modelpins.errors import InvalidPins, ModelPinsError
from modelpins.escape import actions_data, actions_property
from modelpins.redact import redact

escape_data, escape_property = actions_data, actions_property  # modelpins.escape, the one place


def annotation(level: str, message: str, file: str | None = None, line: int | None = None) -> str:
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
    if line:
        props.append(f"line={line}")
    head = f"::{level} {','.join(props)}::" if props else f"::{level}::"
    return redact(head + escape_data(redact(message)))


def annotate_warning(message: str, file: str | None = None, line: int | None = None) -> None:
    """Print one ::warning:: line, in Actions only (elsewhere the caller's own message is enough)."""
    if in_actions():
        print(annotation("warning", message, file, line))


def annotate_error(exc: ModelPinsError) -> None:
    """Print one ::error:: line per located problem (or one for the whole error)."""
    if isinstance(exc, InvalidPins):
        for p in exc.problems:
            text = f"{p.message}. Fix: {p.fix}" if p.fix else p.message
            print(annotation("error", text, p.path, p.line))
    else:
        print(annotation("error", str(exc)))


def append_file(var: str, text: str, env: Mapping[str, str] | None = None) -> bool:
    """Append to the file named by $var (GITHUB_STEP_SUMMARY, GITHUB_OUTPUT); False when unset."""
    path = (env if env is not None else os.environ).get(var)
    if not path:
        return False
    text = redact(text)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    return True


def in_actions(env: Mapping[str, str] | None = None) -> bool:
    return (env if env is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def step_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append markdown to the job summary ($GITHUB_STEP_SUMMARY); False outside Actions."""
    return append_file("GITHUB_STEP_SUMMARY", markdown, env)


def set_output(name: str, value: str, env: Mapping[str, str] | None = None) -> bool:
    """Set a step output; multi-line values use a delimiter that cannot occur in the value."""
    import secrets

    delimiter = f"modelpins_{secrets.token_hex(8)}"
    while delimiter in value:  # pragma: no cover - 64 random bits
        delimiter = f"modelpins_{secrets.token_hex(8)}"
    return append_file("GITHUB_OUTPUT", f"{name}<<{delimiter}\n{value}\n{delimiter}", env)
