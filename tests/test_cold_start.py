"""`modelpins --help` and an offline `validate` must not import mlflow, docker, kubernetes (or requests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("mlflow", "docker", "kubernetes", "requests")
PROBE = """
import runpy, sys
sys.argv = ["modelpins", *sys.argv[1:]]
try:
    runpy.run_module("modelpins", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print("IMPORTED", sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY)), "EXIT", code)
""".replace("HEAVY", repr(HEAVY))

ROOT = Path(__file__).resolve().parent.parent


def imported(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("validate", "--help"),
        ("apply", "--help"),
        ("--pins", str(ROOT / "model_pins.yaml"), "validate"),
        ("--pins", str(ROOT / "model_pins.yaml"), "--tracking-uri", "http://127.0.0.1:9", "validate", "--offline"),
    ],
)
def test_offline_commands_import_no_heavy_module(args: tuple[str, ...]) -> None:
    assert imported(*args) == "IMPORTED [] EXIT 0"


def test_the_probe_sees_an_import_when_one_happens() -> None:
    # `plan` needs the registry adapter, which imports requests: the probe must notice it
    assert imported("--pins", str(ROOT / "model_pins.yaml"), "--tracking-uri", "http://127.0.0.1:9", "plan").startswith(
        "IMPORTED ['requests'] EXIT 1"
    )


READ_THEN_PLUGINS = """
import sys
from modelpins import pins
pins.load(sys.argv[1])
print("metadata imported:", "importlib.metadata" in sys.modules)
from pydantic.plugin import _loader  # what pydantic and its users get afterwards: the real plugin loader
print("real loader:", hasattr(_loader, "__file__") and _loader.get_plugins.__module__ == "pydantic.plugin._loader")
"""


def test_reading_a_file_skips_the_plugin_search_and_leaves_pydantic_s_loader_as_it_was() -> None:
    # pydantic's plugin loader imports importlib.metadata (email, zipfile...) to find plugins the schema
    # does not take; while the schema builds a stand-in answers "none", then the real loader is back
    out = subprocess.run(
        [sys.executable, "-c", READ_THEN_PLUGINS, str(ROOT / "model_pins.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert out.stdout.splitlines() == ["metadata imported: False", "real loader: True"], out.stderr
