"""Plain-text output shared by the commands."""

from __future__ import annotations

from collections.abc import Sequence

from modelpins.escape import terminal


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns two spaces apart (the first row is the header); every cell escaped for the
    terminal (modelpins.escape.terminal): text from the registry cannot start a line or drive the terminal."""
    rows = [[terminal(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def version(number: int | None, none: str = "-") -> str:
    """A version as tables show it; `none` for an alias that is not set."""
    return none if number is None else str(number)


def split_target(value: str) -> tuple[str, str | None]:
    """`MODEL@ALIAS` as (model, alias); alias None without an '@', '' for a trailing '@'."""
    model, at, alias = value.partition("@")
    return model, alias if at else None
