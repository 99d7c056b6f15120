"""Escaping, the one way, for every medium text from a pull request, the registry, a run, a gate or a cluster
goes to:

- terminal and Actions log (stdout, stderr): `terminal` (one line) and `block` (lines): a control
  character (a line break, ESC and so an OSC 52 clipboard write, a C1 control, a bidi override) is
  written as its escape (`\n`, `\x1b`), so the text can neither start a line of its own nor drive the
  terminal; and a line cannot be a runner command (`::error::`, `::stop-commands::`, `##[...]`);
- workflow command data and properties (`::error file=...::message`): `actions_data`, `actions_property`;
- Markdown (PR comment, job summary, model card, reports): `code`, `text`, `cell`, `guard`, `fence`:
  it cannot break out of its table cell or code span, start HTML, or mention (ping) anyone;
- HTML (the `site`): Jinja2's autoescape (modelpins.site), links only http(s).
"""

from __future__ import annotations

import re

COMMAND = re.compile(r"^(\s*):(?=:)|##\[")  # a runner command: a line starting `::` (after blanks), `##[` anywhere


def terminal(value: object) -> str:
    """`value` on one line of a terminal or an Actions log: controls as escapes, no runner command."""
    s = str(value)
    if not s.isprintable():
        s = "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
    return COMMAND.sub(lambda m: m.group(1) + "\\x3a" if m.group(0) != "##[" else "#\\x23[", s)


def block(value: object) -> str:
    """Lines for a terminal or an Actions log: each line as `terminal` escapes it (the line breaks kept)."""
    return "\n".join(terminal(line) for line in str(value).split("\n"))


def actions_data(s: str) -> str:
    """The message of a workflow command (`::error::MESSAGE`): its line breaks cannot end the command."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def actions_property(s: str) -> str:
    """A property of a workflow command (`file=...`)."""
    return actions_data(s).replace(":", "%3A").replace(",", "%2C")


def code(value: object) -> str:
    """Inline code that cannot break out of its span or a table cell (and pings nobody)."""
    s = str(value).replace("`", "'").replace("|", "\\|").replace("\n", " ")
    return f"`{s}`"


def text(s: str) -> str:
    """Plain text safe inside a table cell or list item: no HTML, no table breaks, no mentions, and no control
    character (written as its escape: a card read with `cat` cannot drive the terminal)."""
    s = (
        s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("@", "@\u200b")
    ).replace("\n", " ")
    return s if s.isprintable() else "".join(c if c.isprintable() or c == "\u200b" else repr(c)[1:-1] for c in s)


def guard(s: str) -> str:
    """A table cell of markdown that modelpins composed (code spans, links, `>=`): only the table is guarded."""
    return s.replace("|", "\\|").replace("\n", " ")


def cell(s: str, limit: int = 300) -> str:
    """`text` on one line (whitespace runs as one space), without backticks, cut at `limit`; never empty."""
    return text(re.sub(r"\s+", " ", s).strip()).replace("`", "'")[:limit] or " "


def fence(s: str) -> str:
    """A fenced block no line of `s` can close."""
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    mark = "`" * max(3, longest + 1)
    return f"{mark}text\n{s}\n{mark}"


def markdown_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table's lines; the cells are escaped already (with `code`, `text` or `cell`)."""
    return ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head), *("| " + " | ".join(r) + " |" for r in rows)]
