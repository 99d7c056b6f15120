"""The site's templates are package data: a built wheel carries them, so an installed modelpins can write the site."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_the_templates(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "modelpins", src / "modelpins", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # uv builds the wheel itself (its own build backend, pyproject.toml): no download, no network
    build = [sys.executable, "-m", "uv", "build", "--wheel", "--offline", "--no-cache", "-q", "-o", str(tmp_path)]
    out = subprocess.run([*build, str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("modelpins-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {p.name for p in (ROOT / "modelpins" / "site" / "templates").iterdir()}
    assert {"index.html.j2", "model.html.j2", "pending.html.j2", "style.css"} <= templates
    assert {f"modelpins/site/templates/{t}" for t in templates} <= names
