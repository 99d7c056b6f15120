"""The layering is stated once (import-linter's contract in pyproject.toml) and holds for every module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devkit import layers

ROOT = Path(__file__).resolve().parent.parent


def test_every_module_of_the_package_has_a_layer():
    listed = {m for layer in layers.layers() for m in layer}
    on_disk = {
        f"modelpins.{p.stem if p.suffix == '.py' else p.name}"
        for p in (ROOT / "modelpins").iterdir()
        if (p.suffix == ".py" and p.stem not in {"__init__", "__main__"}) or (p / "__init__.py").exists()
    }
    assert on_disk - listed == set(), "add these to [tool.importlinter] layers in pyproject.toml"
    assert listed - on_disk == set(), "these layers name no module"


def test_no_module_imports_a_layer_above_its_own():
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 kept, 0 broken" in done.stdout


def test_the_layers_page_follows_the_contract():
    assert (ROOT / "docs/explanation/layers.md").read_text() == layers.page(), "run 'python -m devkit.layers'"
