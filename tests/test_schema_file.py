"""The JSON Schema generated from the typed models: printed by `modelpins schema`, committed, used by editors.

The documentation's tables of sections and gate kinds are generated from the same models' field descriptions.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from modelpins.pins import docs
from tests.helpers.cli import run

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "schema" / "model_pins.schema.json"
EXAMPLES = [
    ROOT / "model_pins.yaml",
    ROOT / "tests/serving/golden/model_pins.yaml",
    ROOT / ".github/e2e/model_pins.yaml",
]


def printed_schema() -> dict[str, object]:
    result = run("schema")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_committed_schema_is_the_generated_one() -> None:
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == printed_schema()
    ok = run("schema", "--check", COMMITTED)
    assert ok.returncode == 0 and "up to date" in ok.stdout


def test_check_fails_on_a_stale_copy_and_writes_nothing(tmp_path: Path) -> None:
    stale = tmp_path / "model_pins.schema.json"
    text = COMMITTED.read_text(encoding="utf-8").replace('"minimum": 1,', '"minimum": 0,', 1)
    stale.write_text(text, encoding="utf-8")
    result = run("schema", "--check", stale)
    assert result.returncode == 1
    assert "out of date" in result.stderr and "modelpins schema --out" in result.stderr
    assert stale.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_passes_the_schema_and_points_editors_at_it(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, first
    assert (example.parent / match.group(1)).resolve() == COMMITTED
    jsonschema.validate(yaml.safe_load(text), printed_schema())


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("    aliases:\n", "    aliases:\n      latest: 1\n"), "should not be valid"),  # reserved by MLflow
        (("    aliases:\n", "    colour: red\n    aliases:\n"), "Additional properties"),
        (("version: 1", "version: 2"), "1 was expected"),
        (("models:\n  credit-risk", "models:\n  credit-risk-\u0441"), "does not match"),  # a look-alike letter
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(change: tuple[str, str], words: str) -> None:
    text = (ROOT / "model_pins.yaml").read_text(encoding="utf-8")
    assert change[0] in text
    data = yaml.safe_load(text.replace(change[0], change[1], 1))
    with pytest.raises(jsonschema.ValidationError, match=words):
        jsonschema.validate(data, printed_schema())


def test_the_documented_tables_are_generated_from_the_field_descriptions() -> None:
    assert docs.sections() in (ROOT / "docs" / "reference" / "pins-file.md").read_text(encoding="utf-8")
    assert docs.gate_kinds() in (ROOT / "docs" / "how-to" / "gates.md").read_text(encoding="utf-8")
    assert run("schema", "--markdown").stdout == docs.markdown()
    for kind in ("threshold", "safety", "regression", "latency", "command"):
        assert f"| `{kind}` |" in docs.gate_kinds()


@pytest.mark.parametrize("args", [("--help",), ("schema", "--help"), ("validate", "--help")])
def test_help_does_not_import_the_validation_library(args: tuple[str, ...]) -> None:
    probe = (
        "import runpy, sys\nsys.argv = ['modelpins', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('modelpins', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('PYDANTIC', 'pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "PYDANTIC False", out.stderr
