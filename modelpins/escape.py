"""Markdown escaping, the one way: text from a pull request, a run or a cluster placed in a comment or report.

Every value that did not come from modelpins itself goes through one of these: it cannot break out of
its table cell or code span, start HTML, or mention (ping) anyone.
"""

from __future__ import annotations

import re


def code(value: object) -> str:
    """Inline code that cannot break out of its span or a table cell (and pings nobody)."""
    s = str(value).replace("`", "'").replace("|", "\\|").replace("\n", " ")
    return f"`{s}`"


def text(s: str) -> str:
    """Plain text safe inside a table cell or list item: no HTML, no table breaks, no mentions."""
    return (
        s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("@", "@\u200b")
    ).replace("\n", " ")


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
