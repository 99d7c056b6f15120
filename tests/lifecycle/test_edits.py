"""In-place edits of the pins file: exact, strict, and refused where they cannot be exact."""

from __future__ import annotations

import pytest

from modelpins import gates, pins
from modelpins.audit.history import Transition
from modelpins.drift.registry import Drift, fix_file
from modelpins.errors import InvalidInput
from modelpins.proposals import rollback
from modelpins.proposals.yamledit import set_version_text

TEXT = """version: 1   # schema
models:
  m:
    aliases:
      champion: 4       # promoted by PR
      challenger: 5
    waivers:
      challenger: {version: 5, reason: "rollback"}
  n:
    aliases: {champion: 1}
"""


def served(*moves: tuple[int | None, int]) -> list[Transition]:
    return [Transition("m", "champion", a, b, at=f"2026-01-0{i + 1}", commit=f"c{i}") for i, (a, b) in enumerate(moves)]


def test_version_edit_touches_only_the_scalar() -> None:
    out = set_version_text(TEXT, "p.yaml", {("m", "champion"): 3})
    assert out == TEXT.replace("champion: 4 ", "champion: 3 ")
    crlf = TEXT.replace("\n", "\r\n")
    assert set_version_text(crlf, "p.yaml", {("m", "challenger"): 6}) == crlf.replace("challenger: 5", "challenger: 6")


def test_rollback_adds_and_replaces_waivers_in_block_style() -> None:
    text = TEXT
    p = pins.loads(text, "p.yaml")
    r = rollback.plan(p, text, "m", "champion", None, served((None, 2), (2, 4)), waive="bad release")
    assert r.target == 2 and r.basis.startswith("pinned before commit c1")
    assert 'champion: {version: 2, reason: "bad release"}' in r.new_text
    again = pins.loads(r.new_text, "p.yaml")
    assert gates.waived(again, "m", "champion", 2) == "bad release"
    assert gates.waived(again, "m", "challenger", 5) == "rollback"

    # rolling challenger back without a waiver drops its now stale one
    r2 = rollback.plan(p, text, "m", "challenger", 3, served())
    assert "challenger: {version" not in r2.new_text and "waivers:" not in r2.new_text
    assert pins.loads(r2.new_text, "p.yaml").models["m"].aliases["challenger"].version == 3


def test_flow_style_and_impossible_edits_are_refused_with_a_fix() -> None:
    p = pins.loads(TEXT, "p.yaml")
    with pytest.raises(InvalidInput, match="flow style"):
        fix_file(TEXT, "p.yaml", [Drift("n", "shadow", None, 2)])
    with pytest.raises(InvalidInput, match="already pinned"):
        rollback.plan(p, TEXT, "m", "champion", 4, served())
    with pytest.raises(InvalidInput, match="pass --to VERSION"):
        rollback.plan(p, TEXT, "m", "champion", None, served())


def test_fix_file_inserts_removes_and_drops_stale_waivers() -> None:
    out = fix_file(TEXT, "p.yaml", [Drift("m", "challenger", 5, 7), Drift("m", "shadow", None, 1)])
    assert "challenger: 7\n      shadow: 1\n" in out
    assert "waivers" not in out
    assert "champion: 4       # promoted by PR" in out  # other lines and comments kept
    assert pins.loads(out, "p.yaml").alias_map()["m"] == {"champion": 4, "challenger": 7, "shadow": 1}
