"""Plain-text output shared by the commands."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from modelpins.errors import InvalidInput
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


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """ "; did you mean 'X'?" for the choice closest to a misspelled `name`, or "" when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 model', '2 models': a number with its noun in the right number."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def parse_target(value: str, need_alias: bool = True) -> tuple[str, str | None]:
    """`MODEL@ALIAS` (or `MODEL` when not `need_alias`) as (model, alias), else InvalidInput with an example."""
    model, alias = split_target(value)
    if not model or alias == "" or (need_alias and not alias):
        raise InvalidInput(f"'{value}' is not MODEL@ALIAS (e.g. credit-risk-classifier@champion)")
    return model, alias or None
