"""`modelpins site --out DIR` writes through the same guarded writer as render: it never overwrites a
file it did not write, never writes into a repository's root or a directory of the user's files,
and never follows a link (issue 29, items 4 and 18)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.cli import run
from tests.helpers.seed import seed_model, unique, write_pins
from tests.serving.test_output_dir import snapshot


@pytest.fixture
def pins_file(client, tmp_path: Path) -> Path:
    name = unique("site-guard")
    seed_model(client, name, 1, {"champion": 1})
    return write_pins(tmp_path / "model_pins.yaml", {name: {"champion": 1}})


def site(pins: Path, out: object, url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run("--pins", pins, "site", "--out", out, cwd=cwd, env={"MLFLOW_TRACKING_URI": url})


def test_out_dot_in_a_clone_writes_nothing(pins_file: Path, mlflow_server, tmp_path: Path) -> None:
    repo = pins_file.parent
    (repo / "index.html").write_bytes(b"<p>the project's own page</p>\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    before = snapshot(repo)

    result = site(pins_file, ".", mlflow_server.url, repo)

    assert result.returncode == 2, result.stderr
    assert "root of a git repository" in result.stderr
    assert snapshot(repo) == before  # no style.css, no models/, index.html as it was


def test_a_users_directory_and_index_html_are_left_alone(pins_file: Path, mlflow_server, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    out.mkdir()
    (out / "index.html").write_bytes(b"<p>mine</p>\n")
    (out / "notes.md").write_bytes(b"# notes\n")
    before = snapshot(out)

    result = site(pins_file, out, mlflow_server.url, tmp_path)

    assert result.returncode == 2, result.stderr
    assert "did not write (index.html, notes.md)" in result.stderr and "new or empty directory" in result.stderr
    assert snapshot(out) == before


def test_its_own_site_is_rewritten_but_a_users_file_of_its_name_is_not(
    pins_file: Path, mlflow_server, tmp_path: Path
) -> None:
    out = tmp_path / "site"
    assert site(pins_file, out, mlflow_server.url, tmp_path).returncode == 0
    assert site(pins_file, out, mlflow_server.url, tmp_path).returncode == 0  # its own files: rewritten
    (out / "pending.html").unlink()
    (out / "pending.html").symlink_to(tmp_path / "model_pins.yaml")
    pins_before = pins_file.read_bytes()

    result = site(pins_file, out, mlflow_server.url, tmp_path)

    assert result.returncode == 2, result.stderr
    assert "pending.html is a symbolic link" in result.stderr
    assert pins_file.read_bytes() == pins_before


def test_out_dev_null_is_invalid_input(pins_file: Path, mlflow_server, tmp_path: Path) -> None:
    result = site(pins_file, "/dev/null", mlflow_server.url, tmp_path)

    assert result.returncode == 2, result.stderr
    assert "/dev/null exists and is not a directory" in result.stderr
