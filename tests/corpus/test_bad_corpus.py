"""The bad-input corpus: every file is rejected with exit 2, `file:line`, a fix, and no request to the registry.

Committed files live in tests/corpus/bad/ with their expected line and message in expected.json.
The big ones (10 MB, just over the 4 MiB cap, an anchor bomb, deep nesting) are made here at run time.
A UTF-8 byte-order mark before an otherwise valid file is accepted by design (YAML allows it), so the
BOM case, bom_with_reserved_alias.yaml, is invalid for another reason: the BOM must not hide it or shift its line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from modelpins import pins
from modelpins.errors import InvalidPins
from tests.helpers import rest
from tests.helpers.cli import run

BAD = Path(__file__).parent / "bad"
EXPECTED: dict[str, dict[str, object]] = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
HEAD = "version: 1\nmodels:\n  credit-risk:\n    aliases:\n      champion: 3\n"


def _big(size: int) -> bytes:
    head = HEAD + "    description: "
    return (head + "x" * (size - len(head) - 1) + "\n").encode()


def _anchor_bomb() -> bytes:
    """The "billion laughs": 9 levels of 10 references each would expand to 10^9 strings."""
    lines = [HEAD.rstrip("\n"), 'lol0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return ("\n".join(lines) + "\n").encode()


def _deep_flow() -> bytes:
    return (HEAD + "    description: " + "[" * 5000 + "]" * 5000 + "\n").encode()


def _deep_block() -> bytes:
    """40 nested block mappings, one per line from line 7; the 33rd level opens on line 7 + 31 = 38."""
    lines = [HEAD.rstrip("\n"), "extra:"]
    lines += [" " * (2 * (i + 1)) + f"k{i}:" for i in range(40)]
    return ("\n".join(lines) + " 1\n").encode()


GENERATED: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "ten_megabytes.yaml": (lambda: _big(10 * 1024 * 1024), 1, "larger than 4 MiB"),
    "one_byte_over_4_mib.yaml": (lambda: _big(4 * 1024 * 1024 + 1), 1, "larger than 4 MiB"),
    "anchor_bomb.yaml": (_anchor_bomb, 6, "anchors and aliases"),
    "deep_flow_nesting.yaml": (_deep_flow, 6, "nesting deeper than 32 levels"),
    "deep_block_nesting.yaml": (_deep_block, 38, "nesting deeper than 32 levels"),
}
CASES = sorted(EXPECTED) + sorted(GENERATED)


def materialise(case: str, tmp_path: Path) -> tuple[Path, int, str]:
    if case in GENERATED:
        make, line, message = GENERATED[case]
        path = tmp_path / case
        path.write_bytes(make())
        return path, line, message
    expected = EXPECTED[case]
    return BAD / case, int(expected["line"]), str(expected["message"])  # type: ignore[call-overload]


def test_corpus_has_an_expectation_for_every_file_and_thirty_at_least() -> None:
    files = {p.name for p in BAD.glob("*.yaml")}
    assert files == set(EXPECTED)
    assert len(files) + len(GENERATED) >= 30


def test_generated_big_files_are_what_they_claim(tmp_path: Path) -> None:
    assert len(_big(10 * 1024 * 1024)) == 10 * 1024 * 1024
    assert len(_big(4 * 1024 * 1024)) == 4 * 1024 * 1024
    pins.loads(_big(4 * 1024 * 1024), "exactly-4-MiB.yaml")  # the cap itself is allowed
    valid = HEAD + "    description: " + "[" * 29 + "]" * 29 + "\n"  # 3 + 29 = 32 levels
    with pytest.raises(InvalidPins, match="must be non-empty text, not a list"):  # parses; wrong type
        pins.loads(valid, "deep-but-allowed.yaml")


@pytest.mark.parametrize("case", CASES)
def test_loader_names_the_line_and_the_fix(case: str, tmp_path: Path) -> None:
    path, line, message = materialise(case, tmp_path)
    with pytest.raises(InvalidPins) as caught:
        pins.load(path)
    problems = caught.value.problems
    assert any(p.line == line and message in p.message for p in problems), [str(p) for p in problems]
    assert all(p.fix and p.path == str(path) for p in problems)


@pytest.mark.parametrize("case", CASES)
def test_apply_exits_2_and_sends_nothing_to_the_registry(case, tmp_path, proxy, mlflow_server):
    path, line, message = materialise(case, tmp_path)
    before = rest.call(mlflow_server.url, "GET", "registered-models/search", params={"max_results": 1000})

    result = run("--pins", path, "--tracking-uri", proxy.url, "apply", "--yes")

    assert result.returncode == 2, result.stderr
    assert f"{path}:{line}: " in result.stderr
    assert message in result.stderr
    assert "fix: " in result.stderr
    assert proxy.log == []  # rejected before a single request
    after = rest.call(mlflow_server.url, "GET", "registered-models/search", params={"max_results": 1000})
    assert after == before


FIXED = sorted(case for case, expected in EXPECTED.items() if "fixed" in expected)


@pytest.mark.parametrize("case", FIXED)
def test_the_fix_given_makes_the_file_valid(case: str, tmp_path: Path) -> None:
    """Where the corpus records it, following the printed fix (`old` -> `new`, shown as `shown`) validates."""
    fix = EXPECTED[case]["fixed"]
    assert isinstance(fix, list)
    old, new, shown = (str(part) for part in fix)
    with pytest.raises(InvalidPins) as caught:
        pins.load(BAD / case)
    assert any(shown in p.fix for p in caught.value.problems), [p.fix for p in caught.value.problems]
    text = (BAD / case).read_text(encoding="utf-8")
    assert text.count(old) == 1
    fixed = tmp_path / case
    fixed.write_text(text.replace(old, new), encoding="utf-8")
    pins.load(fixed)  # no InvalidPins


SERVING = [
    "resources_cpu_not_quantity.yaml",
    "resources_memory_with_space.yaml",
    "hostname_with_space.yaml",
    "hostname_upper_case.yaml",
    "gateway_path_traversal.yaml",
    "gateway_without_namespace.yaml",
    "replicas_hex.yaml",
    "route_path_dot_segments.yaml",
    "image_base_short_digest.yaml",
    "pods_tracking_uri_with_password.yaml",  # was rendered verbatim into the modelpins-mlflow ConfigMap
]


@pytest.mark.parametrize("case", SERVING)
def test_render_exits_2_with_the_pins_line_and_writes_no_manifest(case: str, tmp_path: Path) -> None:
    """Values a cluster would reject (quantities, hostnames, gateway references) stop render before any write."""
    path, line, message = materialise(case, tmp_path)
    out = tmp_path / "manifests"

    result = run("--pins", path, "render", "--out", out, env={"MLFLOW_TRACKING_URI": ""})

    assert result.returncode == 2, result.stderr
    assert f"{path}:{line}: " in result.stderr and message in result.stderr and "fix: " in result.stderr
    assert not out.exists()
