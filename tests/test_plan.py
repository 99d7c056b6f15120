"""plan.py in process: the changes that make the registry's aliases match the file, in the order apply makes them."""

from __future__ import annotations

from modelpins import pins
from modelpins.plan import Change, between, diff, summary, table

FILE = """version: 1
models:
  scorer:
    aliases:
      champion: 3
      challenger: 4
  ranker:
    aliases:
      production: 2
"""


def test_moves_and_sets_in_file_order_then_deletes() -> None:
    p = pins.loads(FILE)
    actual = {"scorer": {"champion": 2, "old": 1}, "ranker": {"production": 2}, "unmanaged": {"x": 1}}

    changes = diff(p, actual)

    assert [(c.model, c.alias, c.before, c.after, c.action) for c in changes] == [
        ("scorer", "champion", 2, 3, "move"),
        ("scorer", "challenger", None, 4, "set"),
        ("scorer", "old", 1, None, "delete"),
    ]
    assert changes[0].line == 5  # the pin's line, for messages and the PR comment


def test_a_registry_that_matches_needs_no_change() -> None:
    p = pins.loads(FILE)

    changes = diff(p, {"scorer": {"champion": 3, "challenger": 4}, "ranker": {"production": 2}})

    assert changes == []
    assert summary(changes) == "No changes: the registry matches the pins file."


def test_between_is_what_a_pull_request_changes_in_the_file() -> None:
    base = pins.loads(FILE)
    head = pins.loads(FILE.replace("champion: 3", "champion: 4"))

    assert [(c.model, c.alias, c.before, c.after) for c in between(base, head)] == [("scorer", "champion", 3, 4)]
    assert len(between(None, head)) == 3  # a new file sets every alias


def test_summary_and_table_show_each_change() -> None:
    changes = [Change("scorer", "champion", 2, 3), Change("scorer", "old", 1, None)]

    assert summary(changes) == "2 changes: 1 move, 1 delete"
    assert table(changes).splitlines()[1:] == ["scorer  champion  2     3   move", "scorer  old       1     -   delete"]
