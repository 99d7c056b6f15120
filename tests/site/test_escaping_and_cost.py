"""Registry and pins-file text is shown, never run; and the board's registry reads grow with the
versions it shows, not with the size of the registry."""

from __future__ import annotations

import json
from pathlib import Path

from modelpins import pins
from modelpins.audit import records
from modelpins.board import reads
from modelpins.registry import MlflowRegistry
from tests.helpers.cli import run
from tests.helpers.seed import seed_model, unique, write_pins
from tests.site.pages import parse, text

SCRIPT = '<script>alert("pwned")</script>'
ROOT = Path(__file__).resolve().parents[2]


def test_hostile_registry_and_pins_text_is_escaped(client, mlflow_server, tmp_path: Path) -> None:
    name = unique("hostile")
    seed_model(client, name, 1, {"champion": 1})
    client.update_model_version(name, "1", description=SCRIPT)  # the card's intended use, from the version
    record = {"action": "set", "alias": "champion", "from": None, "to": 1, "at": "2026-01-02T03:04:05Z",
              "actor": '<img src=x onerror="alert(1)">', "pr": '7"><script>alert(2)</script>',
              "run_url": "javascript:alert(3)"}  # fmt: skip
    client.set_model_version_tag(name, "1", records.audit_key("champion"), json.dumps(record))
    gates = {
        "passed": True,
        "at": "2026-01-02T03:00:00Z",
        "results": [{"name": SCRIPT, "value": "<i>1</i>", "passed": True}],
    }
    client.set_model_version_tag(name, "1", "modelpins.gates.champion", json.dumps(gates))
    path = write_pins(tmp_path / "model_pins.yaml", {name: {"champion": 1}})
    path.write_text(path.read_text().replace(f"  {name}:\n", f"  {name}:\n    limitations: '{SCRIPT}'\n"))
    out = tmp_path / "site"
    result = run("--pins", path, "site", "--out", out, cwd=tmp_path, env={"MLFLOW_TRACKING_URI": mlflow_server.url})
    assert result.returncode == 0, result.stderr
    page = parse(out / "models" / f"{name}.html")
    board = parse(out / "index.html")
    script = (ROOT / "modelpins" / "site" / "templates" / "board.js").read_text()
    assert page.find(".//script") is None  # a model page runs nothing
    assert [s.text for s in board.iter("script")] == [script]  # the board runs its own script alone
    assert name not in script and "textContent" in script and "innerHTML" not in script
    for root in (page, board):
        assert root.find(".//img") is None and root.find(".//i") is None
        csp = root.find(".//meta[@http-equiv='Content-Security-Policy']")
        assert csp is not None and "default-src 'none'" in csp.get("content", "")
        for el in root.iter():
            assert not any(k.startswith("on") for k in el.attrib), el.attrib
            assert not el.get("href", "").startswith("javascript:")
    shown = text(page)
    assert "<i>1</i>" in shown  # the gate result's value, as text
    assert shown.count(SCRIPT) >= 3  # limitations, the card's intended use, the gate result's name
    assert '<img src=x onerror="alert(1)">' in shown and '#7"><script>alert(2)</script>' in shown
    assert '<img src=x onerror="alert(1)">' in text(board)


def test_reads_grow_with_versions_shown_not_with_registry_size(client, mlflow_server, tmp_path: Path) -> None:
    name = unique("board-cost")
    run_ids = seed_model(client, name, 3, {"champion": 1})
    path = tmp_path / "model_pins.yaml"

    def cost(aliases: dict[str, int]) -> int:
        registry = MlflowRegistry(mlflow_server.url)
        board = reads.read(pins.load(write_pins(path, {name: aliases})), registry)
        assert board.requests == registry.reads
        return registry.reads

    one = cost({"champion": 1})
    assert one == 3  # the alias state (one page), every version of the model (one search), champion's run
    for _ in range(30):  # the registry grows: other models, and versions of this one that nothing points at
        client.create_registered_model(unique("board-other"))
    for _ in range(20):
        client.create_model_version(name, f"runs:/{run_ids[0]}/model", run_id=run_ids[0])
    assert cost({"champion": 1}) == one
    client.set_registered_model_alias(name, "challenger", "2")
    client.set_registered_model_alias(name, "canary", "3")
    assert cost({"champion": 1, "challenger": 2, "canary": 3}) == one + 2  # one run read per version shown
