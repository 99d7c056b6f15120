"""The board at 1,000 models (built in-process: tests/site/synthetic.py), in headless Chromium driven over the
DevTools protocol: it loads from disk in under a second by the browser's own navigation timing, typing into
the search shows only the matching rows, the filters narrow them, and a model page's size does not grow
with the number of models."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelpins import site
from tests.site import synthetic
from tests.site.test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("big")
    out = tmp / "site"
    site.write(synthetic.board(1000, 2000, tmp), out)
    return out


class Page:
    """One Chromium tab over the DevTools protocol: evaluate JavaScript, type text."""

    def __init__(self, ws: Any):
        self.ws, self.id = ws, 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.id += 1
        self.ws.send(json.dumps({"id": self.id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.id:
                assert "error" not in reply, reply
                return dict(reply["result"])

    def load_ms(self) -> int:
        """Load the page again; the browser's navigation timing, navigation start to the end of the load event."""
        self.call("Page.navigate", url=self.eval("location.href"))
        deadline = time.monotonic() + 60
        while not self.eval("performance.timing.loadEventEnd > 0") and time.monotonic() < deadline:
            time.sleep(0.05)
        return int(self.eval("performance.timing.loadEventEnd - performance.timing.navigationStart"))

    def eval(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@pytest.fixture
def browser(big: Path, tmp_path: Path) -> Iterator[Page]:
    import websocket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert CHROMIUM
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--remote-debugging-port={port}", f"--user-data-dir={tmp_path / 'profile'}",
         (big / "index.html").as_uri()],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        tabs: list[dict[str, str]] = []
        deadline = time.monotonic() + 60
        while not tabs and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    tabs = [t for t in json.load(r) if t.get("type") == "page"]
            except OSError:
                time.sleep(0.2)
        assert tabs, "chromium did not open its DevTools port"
        ws = websocket.create_connection(tabs[0]["webSocketDebuggerUrl"], timeout=60)
        page = Page(ws)
        while not page.eval("performance.timing.loadEventEnd > 0") and time.monotonic() < deadline:
            time.sleep(0.1)
        yield page
        ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def shown(page: Page) -> list[str]:
    return list(
        page.eval("[...document.querySelectorAll('tbody tr[data-row]')].filter(r => !r.hidden).map(r => r.dataset.row)")
    )


def test_a_1000_model_board_loads_in_under_a_second_and_the_search_narrows_it(browser: Page) -> None:
    loads = [browser.load_ms() for _ in range(3)]  # the first load of a fresh browser also starts its processes
    assert 0 < min(loads) < 1000, f"the board took {loads} ms to load"
    assert len(shown(browser)) == 1000
    assert browser.eval("document.getElementById('shown').textContent") == "1000 of 1000 models shown"

    browser.eval("document.getElementById('q').focus()")
    browser.call("Input.insertText", text="model-0012")
    assert shown(browser) == [synthetic.name(i) for i in range(120, 130)]
    assert browser.eval("document.getElementById('shown').textContent") == "10 of 1000 models shown"

    browser.eval("document.getElementById('q').select()")
    browser.call("Input.insertText", text="team-3")  # an owner
    assert len(shown(browser)) == 100

    drift = "const d = document.getElementById('f-drift'); d.value = '1'; "
    drift += "d.dispatchEvent(new Event('change', {bubbles: true}))"
    browser.eval(drift)
    assert shown(browser) == []  # the drifted models (every 50th) are team-0's
    browser.eval("document.getElementById('q').select()")
    browser.eval(
        "const q = document.getElementById('q'); q.value = ''; q.dispatchEvent(new Event('input', {bubbles: true}))"
    )
    assert shown(browser) == [synthetic.name(i) for i in range(0, 1000, 50)]
    assert browser.eval("document.getElementById('shown').textContent") == "20 of 1000 models shown"


def test_page_size_does_not_depend_on_the_number_of_models(big: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    site.write(synthetic.board(20, 40, tmp_path), small)
    page = "models/model-00007.html"
    sizes = [len(re.sub(r"\d+ models", "", (root / page).read_text())) for root in (small, big)]
    assert abs(sizes[0] - sizes[1]) < 200, sizes  # the neighbours and counts differ; no list of every model
    assert (big / "index.html").stat().st_size < 2_000_000
