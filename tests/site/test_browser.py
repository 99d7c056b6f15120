"""The site in a real browser: headless Chromium (Debian's `chromium`; `make test` installs it).

`--dump-dom` gives the DOM Chromium built from each page; the screenshots of the board and a
model page must show more than a blank page.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.site.conftest import Demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-dev-shm-usage"]


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built(promoted: Demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browsed")
    result = promoted.modelpins("site", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_every_page_renders_with_versions_prs_and_the_drift_mark(built: Path) -> None:
    doms = {}
    for page in sorted(built.rglob("*.html")):
        result = chromium("--dump-dom", page.as_uri())
        assert result.returncode == 0, result.stderr
        assert "</main>" in result.stdout, f"{page.name}: no page body in the DOM"
        doms[page.relative_to(built).as_posix()] = result.stdout
    board = doms["index.html"]
    assert 'data-drift="moved"' in board and "git says v4" in board
    assert ">#41</a>" in board and ">#42</a>" in board
    assert 'href="http://127.0.0.1' in board and "/#/models/credit-risk-classifier/versions/2" in board
    model = doms["models/credit-risk-classifier.html"]
    assert 'class="rollback" data-version="2"' in model and ">#42</a>" in model
    assert ">v3</text>" in model  # the version axis of the timeline
    assert "support-assistant-lora" in doms["pending.html"] or "credit-risk-classifier" in doms["pending.html"]


@pytest.mark.parametrize("page", ["index.html", "models/credit-risk-classifier.html"])
def test_screenshot_is_not_blank(built: Path, page: str, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    result = chromium(f"--screenshot={shot}", "--window-size=1280,1100", (built / page).as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1100)
    colours = image.getcolors(maxcolors=1 << 20) or []
    background = max(colours)[0] / (1280 * 1100)
    assert len(colours) > 200, "the page looks empty: almost no distinct colours"
    assert background < 0.9, f"{background:.0%} of the screenshot is one colour"
