"""`modelpins site` and `modelpins status` on the demo models, promoted, rolled back and moved by hand.

The pages are parsed strictly (html5lib: any HTML5 parse error fails) and read the way a
person reads them: which version each cell shows, where its links go, the drift mark, the
timeline's points and rollback marker, the pending plan.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.site.conftest import Demo
from tests.site.pages import SVG, cell, links, parse, text

UI = "#/models/{}/versions/{}"


@pytest.fixture(scope="module")
def site(promoted: Demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = promoted.modelpins("site", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"open {out / 'index.html'}" in result.stdout
    assert "site: model pages: 100% (4/4)" in result.stderr  # progress, as plain lines when not on a terminal
    return out


def test_every_page_is_valid_html5(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert {p.relative_to(site).as_posix() for p in pages} == {
        "index.html",
        "pending.html",
        *(
            f"models/{m}.html"
            for m in ("credit-risk-classifier", "support-llm-base", "support-assistant-lora", "support-prompts")
        ),
    }
    for page in pages:
        parse(page)  # raises on the first parse error
    assert (site / "style.css").stat().st_size > 1000


def test_board_cells_show_version_promoter_pr_gates_and_drift(site: Path, promoted: Demo) -> None:
    board = parse(site / "index.html")
    champion = cell(board, "credit-risk-classifier", "champion")
    assert text(champion).startswith("v2")
    assert links(champion)["v2"] == f"{promoted.url}/{UI.format('credit-risk-classifier', 2)}"
    assert links(champion)["#42"] == "https://github.com/acme/models/pull/42"
    assert "by bob" in text(champion) and "rollback" in text(champion)
    assert champion.get("class") == "cell"  # no drift: the registry has what git says

    challenger = cell(board, "credit-risk-classifier", "challenger")
    drift = challenger.find(".//*[@data-drift]")
    assert drift is not None and drift.get("data-drift") == "moved"
    assert "git says v4" in text(challenger) and text(challenger).startswith("v5")
    assert board.find(".//*[@data-drift-count='1']") is not None

    lora = cell(board, "support-assistant-lora", "champion")
    assert links(lora)["#41"] == "https://github.com/acme/models/pull/41" and "by alice" in text(lora)
    assert lora.find(".//*[@data-gates='passed']") is not None
    assert "safety-safety_score 0.98 / >= 0.95" in text(lora)  # the value and the threshold
    assert "support-assistant stable 90%" in text(lora)


def test_board_shows_each_deployment_strategy(site: Path) -> None:
    board = parse(site / "index.html")
    strategies = {el.get("data-strategy"): text(el) for el in board.iter("p") if el.get("data-strategy")}
    assert strategies == {
        "blue-green": "blue-green: blue is active",
        "canary": "canary: 10% to the candidate (steps 10, 50, 100)",
    }
    assert "credit-risk blue active" in text(cell(board, "credit-risk-classifier", "champion"))
    assert "credit-risk green idle" in text(cell(board, "credit-risk-classifier", "challenger"))


def test_model_page_timeline_marks_the_rollback(site: Path) -> None:
    page = parse(site / "models" / "credit-risk-classifier.html")
    svg = page.find(f".//{SVG}svg")
    assert svg is not None and svg.get("role") == "img"
    lines = {g.get("data-alias"): g for g in svg.iter(f"{SVG}g") if g.get("data-alias")}
    assert set(lines) == {"champion", "challenger"}
    champion = lines["champion"]
    assert [c.get("data-version") for c in champion.iter(f"{SVG}circle") if c.get("class") == "point"] == ["3"]
    rollbacks = [p for p in champion.iter(f"{SVG}path") if p.get("class") == "rollback"]
    assert [p.get("data-version") for p in rollbacks] == ["2"]
    assert "PR #42" in text(rollbacks[0])
    hand = [c.get("data-version") for c in lines["challenger"].iter(f"{SVG}circle") if c.get("class") == "unrecorded"]
    assert hand == ["5"]  # moved in MLflow by hand: no audit record
    assert [c.get("class") for c in champion.iter(f"{SVG}circle")] == ["point"]
    moves = page.find(".//table[@class='moves']")
    assert moves is not None
    rows = [" ".join(text(td) for td in tr.findall("td")[1:]) for tr in moves.iter("tr")][1:]
    assert rows == [
        "challenger - v4 alice #41 passed run",
        "champion v2 v3 alice #41 passed run",
        "champion v3 v2 bob #42 skipped rollback (older than v3) run",
    ]


def test_model_page_has_gate_history_lineage_and_card(site: Path) -> None:
    page = text(parse(site / "models" / "credit-risk-classifier.html"))
    assert "eval-suite 0.9042 / 0.88" in page  # the command gate's value on v3, from its record
    assert "loans-2024q4" in page and "4be1c3d" in page  # dataset and code commit of the run
    assert "Trained on applications from one market" in page  # limitations, from the pins file
    assert "# Model card: credit-risk-classifier version 2" in page
    lora = text(parse(site / "models" / "support-assistant-lora.html"))
    assert "base: support-llm-base v1" in lora


def test_pending_page_is_the_plan(site: Path) -> None:
    page = parse(site / "pending.html")
    rows = [text(tr) for tr in page.iter("tr") if tr.get("data-model")]
    assert rows == ["credit-risk-classifier challenger v5 v4 move passed model_pins.yaml:22"]


def test_status_json_is_the_same_board(promoted: Demo) -> None:
    result = promoted.modelpins("status", "--json")
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    credit = next(m for m in board["models"] if m["name"] == "credit-risk-classifier")
    champion, challenger = credit["aliases"]["champion"], credit["aliases"]["challenger"]
    assert (champion["version"], champion["promotion"]["pr"], champion["promotion"]["rollback"]) == (2, "42", True)
    assert champion["url"].endswith(UI.format("credit-risk-classifier", 2))
    assert (challenger["version"], challenger["pinned"], challenger["drift"]) == (5, 4, "moved")
    assert board["drift"] == 1
    assert [(p["model"], p["alias"], p["from"], p["to"]) for p in board["pending"]] == [
        ("credit-risk-classifier", "challenger", 5, 4)
    ]
    table = promoted.modelpins("status")
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith("credit-risk-classifier  challenger"))
    assert "moved: file 4" in row
