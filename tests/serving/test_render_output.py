"""How render writes: libyaml's and PyYAML's own emitter give the same bytes, a re-render opens no unchanged
file, a hand-edited file is put back, and the summary per environment (`-v` lists every file)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from modelpins import pins as pinsmod
from modelpins.serving import emit
from modelpins.serving.files import INDEX, write_tree
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.render import render
from tests.helpers.cli import run
from tests.serving.test_render import DOCKERFILE, GOLDEN, STRATEGIES, golden_sizes, project, tree

OPENED: list[str] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and OPENED is not None and isinstance(args[0], (str, os.PathLike)):
        OPENED.append(os.fspath(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one records only inside `opened()`


@contextmanager
def opened() -> Iterator[list[str]]:
    """The paths the process opens (Python's `open` audit event) while the block runs."""
    global OPENED
    OPENED = []
    try:
        yield OPENED
    finally:
        OPENED = None


def golden_files() -> dict[str, bytes]:
    return render(pinsmod.load(GOLDEN / "model_pins.yaml"), ImageLock(), DOCKERFILE, golden_sizes())


@pytest.mark.skipif(emit.CDumper is None, reason="this PyYAML has no libyaml")
def test_the_c_and_the_pure_emitter_write_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert emit.Dumper is emit.CDumper, "libyaml is present, so render uses it"
    with_c = golden_files()
    monkeypatch.setattr("modelpins.serving.render.dump", lambda obj: emit.dump(obj, emit.PureDumper))
    pure = golden_files()

    assert len(pure) > 40
    assert pure == with_c


def test_a_re_render_opens_no_rendered_file_and_writes_nothing(tmp_path: Path) -> None:
    files = golden_files()
    out = tmp_path / "m"
    write_tree(out, files)
    write_tree(out, files)  # the first render into a fresh tree; the second one trusts its index
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.yaml")}

    with opened() as paths:
        changes = write_tree(out, files)

    assert changes.written == [] and changes.removed == [] and len(changes.unchanged) == len(files)
    assert [p for p in paths if p.endswith(".yaml")] == [], "no rendered file was opened"
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.yaml")} == before


def test_a_hand_edit_of_the_same_size_is_put_back(tmp_path: Path) -> None:
    files = golden_files()
    out = tmp_path / "m"
    write_tree(out, files)
    rel = f"base/{STRATEGIES['canary']}/kustomization.yaml"
    edited = files[rel].replace(b"apiVersion", b"apiVersioN")
    assert len(edited) == len(files[rel]) and edited != files[rel]
    (out / rel).write_bytes(edited)

    changes = write_tree(out, files)

    assert changes.written == [rel]
    assert (out / rel).read_bytes() == files[rel]


def test_an_index_without_digests_is_read_and_replaced(tmp_path: Path) -> None:
    files = golden_files()
    out = tmp_path / "m"
    write_tree(out, files)
    index = out / INDEX
    index.write_text("".join(line.split(" ")[0] + "\n" for line in index.read_text().splitlines()))

    changes = write_tree(out, files)

    assert changes.written == [] and len(changes.unchanged) == len(files)
    assert all(len(line.split(" ")) == 2 for line in index.read_text().splitlines()[1:] if not line.endswith("/"))


def test_render_prints_a_summary_per_environment_and_lists_files_with_v(tmp_path: Path) -> None:
    pins = project(tmp_path)
    quiet = run("--pins", pins, "render", "--out", tmp_path / "m")
    loud = run("--pins", pins, "render", "--out", tmp_path / "n", "-v")

    assert quiet.returncode == loud.returncode == 0, quiet.stderr + loud.stderr
    assert "wrote" not in quiet.stdout
    written = len(tree(tmp_path / "m")) - 1  # all but the index
    per_env = [line.strip() for line in quiet.stdout.splitlines() if line.startswith("  ")]
    assert [line.split(":")[0] for line in per_env] == sorted(pinsmod.load(pins).environments)
    assert sum(int(line.split(": ")[1].split(" ")[0]) for line in per_env) == written
    assert sum(1 for line in loud.stdout.splitlines() if line.startswith("wrote ")) == written
