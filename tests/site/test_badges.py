"""The rollback badge's exact meaning (issue 33): a move to an older version than the one replaced, or one
made through `modelpins rollback`; a forward move back to a version the alias once held is not one."""

from __future__ import annotations

from pathlib import Path

from modelpins import site
from modelpins.audit import canary
from modelpins.board.model import rollback_kind
from tests.site import synthetic
from tests.site.pages import cell, parse, text


def test_a_forward_move_to_a_version_held_before_is_not_a_rollback() -> None:
    # champion: v2 -> v1 (older), v1 -> v2 (forward again, though it held v2 once): only the first is a rollback
    assert rollback_kind({"from": 2, "to": 1}, 2, 1) == "older"
    assert rollback_kind({"from": 1, "to": 2}, 1, 2) == ""
    assert rollback_kind({"from": None, "to": 2}, None, 2) == ""


def test_a_move_made_through_modelpins_rollback_says_so() -> None:
    waiver = {"gates": "waived", "waiver": "rollback to version 3, which served champion before"}
    assert rollback_kind(waiver, 4, 3) == "command"
    assert rollback_kind({"rollback": True}, 2, 5) == "command"


def test_the_board_names_the_kind_and_explains_every_badge(tmp_path: Path) -> None:
    out = tmp_path / "site"
    site.write(synthetic.board(10, 14, tmp_path), out)  # record 6 and 13 move champion 4 -> 3
    page = parse(out / "models" / "model-00006.html")
    badges = [text(a) for a in page.iter("a") if a.get("data-rollback")]
    assert badges == ["rollback (older than v4)", "rollback (older than v4)"]  # the cell and the moves table
    board = parse(out / "index.html")
    found = board.find(".//dl[@class='legend']")
    assert found is not None
    legend = text(found)
    assert "A move to a newer version is never a rollback" in legend
    assert "made through modelpins rollback" in legend
    forward = parse(out / "models" / "model-00001.html")  # v2 -> v3 only
    assert not [a for a in forward.iter("a") if a.get("data-rollback")]


def test_the_board_shows_the_newest_canary_decision(tmp_path: Path) -> None:
    decisions = [
        {"deployment": "scorer", "action": "advance", "weight": 10, "to_weight": 50, "reason": "p99 within 5%",
         "evidence": {"at": "2026-12-05T10:00:00Z"}},
        {"deployment": "scorer", "action": "hold", "weight": 50, "to_weight": 50, "reason": "<b>too few requests</b>",
         "evidence": {"at": "2026-12-05T11:00:00Z"}},
    ]  # fmt: skip
    tags = {canary.key("scorer", 1_700_000_000 + i): canary.value(d) for i, d in enumerate(decisions)}
    out = tmp_path / "site"
    site.write(synthetic.board(3, 3, tmp_path, {(synthetic.name(1), 4): tags}), out)
    challenger = cell(parse(out / "index.html"), synthetic.name(1), "challenger")
    shown = challenger.find(".//p[@data-canary]")
    assert shown is not None and shown.get("data-canary") == "hold"
    assert text(shown) == "canary scorer: hold (50% → 50%) 2026-12-05 11:00 UTC"
    assert shown.get("title") == "<b>too few requests</b>"  # the reason, as text
