"""`modelpins render --out DIR`: what render may delete there, and the directories it refuses to write into."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelpins.errors import InvalidInput
from modelpins.serving.emit import HEADER
from tests.helpers.cli import run
from tests.serving.test_render import project

INDEX = ".modelpins-rendered"  # render's index of what it owns in --out


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under root, .git included."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def clone_with_manifests(tmp_path: Path) -> Path:
    """A repository whose manifests/ is rendered and committed, plus an empty directory of the user's."""
    pins = project(tmp_path)
    assert run("--pins", pins, "render", "--out", tmp_path / "manifests").returncode == 0
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    (tmp_path / "notes").mkdir()
    return pins


def test_out_dot_in_a_clone_is_refused_and_touches_nothing(tmp_path: Path) -> None:
    pins = clone_with_manifests(tmp_path)
    before = snapshot(tmp_path)

    result = run("--pins", pins, "render", "--out", ".", cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "root of a git repository" in result.stderr and "--out DIR" in result.stderr
    assert snapshot(tmp_path) == before
    assert git(tmp_path, "status", "--porcelain").stdout == ""


def test_out_root_is_refused(tmp_path: Path) -> None:
    # The guard is checked first on its own: a render that lacked it would walk and prune the whole disk.
    from modelpins.serving.files import check_out

    with pytest.raises(InvalidInput, match="file system root"):
        check_out(Path("/"))
    pins = project(tmp_path)

    result = run("--pins", pins, "render", "--out", "/")

    assert result.returncode == 2, result.stderr
    assert "file system root" in result.stderr
    assert not Path("/" + INDEX).exists() and not Path("/base").exists()


def test_fresh_repository_keeps_its_git_directory(tmp_path: Path) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q")
    pins = project(repo)
    before = snapshot(repo)

    here = run("--pins", pins, "render", "--out", ".", cwd=repo)
    parent = run("--pins", pins, "render", "--out", tmp_path)
    inside = run("--pins", pins, "render", "--out", repo / ".git" / "m")

    assert [here.returncode, parent.returncode, inside.returncode] == [2, 2, 2], here.stderr + parent.stderr
    assert "contains a git repository" in parent.stderr
    assert "inside a .git directory" in inside.stderr
    assert snapshot(repo) == before
    assert git(repo, "status").returncode == 0


def test_user_files_and_empty_directories_are_kept(tmp_path: Path) -> None:
    pins = project(tmp_path)
    out = tmp_path / "m"
    (out / "mine-empty").mkdir(parents=True)  # the user's, before render ever ran
    assert run("--pins", pins, "render", "--out", out).returncode == 0
    (out / "base" / "user-empty").mkdir()
    look_alike = out / "base" / "fraud-ab" / "my-configmap.yaml"  # the user's file, with render's header
    look_alike.write_bytes(HEADER + b"kind: ConfigMap\n")
    (out / "prod" / "mine.yaml").write_bytes(HEADER + b"kind: ConfigMap\n")
    text = pins.read_text()
    pins.write_text(text[: text.index("  fraud-ab:")])  # drop the last deployment

    result = run("--pins", pins, "render", "--out", out, "-v")

    assert result.returncode == 0, result.stderr
    assert f"removed  {out}/base/fraud-ab/deployment-fraud-ab-stable.yaml" in result.stdout
    assert not list((out / "base" / "fraud-ab").glob("deployment-*"))
    assert look_alike.read_bytes().startswith(HEADER), "a file render did not write is never deleted"
    assert (out / "prod" / "mine.yaml").exists()
    assert (out / "mine-empty").is_dir() and (out / "base" / "user-empty").is_dir()


def test_a_directory_render_created_goes_when_its_files_go(tmp_path: Path) -> None:
    pins = project(tmp_path)
    out = tmp_path / "m"
    assert run("--pins", pins, "render", "--out", out).returncode == 0
    assert "base/fraud-ab/" in (out / INDEX).read_text()
    text = pins.read_text()
    pins.write_text(text[: text.index("  fraud-ab:")])

    assert run("--pins", pins, "render", "--out", out).returncode == 0

    assert not (out / "base" / "fraud-ab").exists()
    assert "fraud-ab" not in (out / INDEX).read_text()


def test_an_index_naming_files_outside_the_directory_deletes_nothing_there(tmp_path: Path) -> None:
    pins = project(tmp_path)
    out = tmp_path / "m"
    assert run("--pins", pins, "render", "--out", out).returncode == 0
    victim = tmp_path / "victim.yaml"
    victim.write_bytes(HEADER + b"kind: ConfigMap\n")
    with (out / INDEX).open("a") as fh:
        fh.write("../victim.yaml\n/etc/hostname\n../\n")

    assert run("--pins", pins, "render", "--out", out).returncode == 0

    assert victim.exists()


def files_under(root: Path) -> dict[str, bytes]:
    """Every regular file under root (links not followed) and its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_users_file_of_a_rendered_name_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    # issue 29, item 1: `echo mine > u/prod/kustomization.yaml; modelpins render --out u`
    pins = project(tmp_path)
    out = tmp_path / "u"
    (out / "prod").mkdir(parents=True)
    (out / "prod" / "kustomization.yaml").write_bytes(b"mine\n")
    before = snapshot(out)

    result = run("--pins", pins, "render", "--out", out)

    assert result.returncode == 2, result.stderr
    assert f"{out}/prod/kustomization.yaml exists and was not written by modelpins render" in result.stderr
    assert "Fix: move or remove" in result.stderr
    assert snapshot(out) == before  # the user's bytes, and no base/ or index beside them


def test_a_linked_subdirectory_is_refused_and_its_files_kept(tmp_path: Path) -> None:
    # item 2: `ln -s /elsewhere out/prod`; rendered once before, so the index lists every file there
    pins = project(tmp_path)
    out = tmp_path / "m"
    assert run("--pins", pins, "render", "--out", out).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    (out / "prod").rename(elsewhere)
    (out / "prod").symlink_to(elsewhere)
    for f in elsewhere.iterdir():
        f.write_bytes(b"the user's\n")
    before = files_under(elsewhere)

    result = run("--pins", pins, "render", "--out", out)

    assert result.returncode == 2, result.stderr
    assert f"{out}/prod is a symbolic link" in result.stderr
    assert files_under(elsewhere) == before


def test_a_rendered_file_that_is_a_link_is_not_written_through(tmp_path: Path) -> None:
    pins = project(tmp_path)
    out = tmp_path / "m"
    assert run("--pins", pins, "render", "--out", out).returncode == 0
    target = tmp_path / "precious.yaml"
    target.write_bytes(b"precious\n")
    (out / "prod" / "kustomization.yaml").unlink()
    (out / "prod" / "kustomization.yaml").symlink_to(target)
    before = snapshot(out)

    result = run("--pins", pins, "render", "--out", out)

    assert result.returncode == 2, result.stderr
    assert "kustomization.yaml is a symbolic link" in result.stderr
    assert target.read_bytes() == b"precious\n" and snapshot(out) == before


def test_a_linked_index_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    pins = project(tmp_path)
    out = tmp_path / "m"
    out.mkdir()
    target = tmp_path / "notes.txt"
    target.write_bytes(b"my notes\n")
    (out / INDEX).symlink_to(target)

    result = run("--pins", pins, "render", "--out", out)

    assert result.returncode == 2, result.stderr
    assert INDEX in result.stderr and "never written through" in result.stderr
    assert target.read_bytes() == b"my notes\n"
    assert sorted(p.name for p in out.iterdir()) == [INDEX]


def test_an_index_entry_through_a_linked_directory_deletes_nothing_outside(tmp_path: Path) -> None:
    # item 3: the entry `away/victim.yaml`, with `away` a link to a directory outside --out
    pins = project(tmp_path)
    out = tmp_path / "m"
    assert run("--pins", pins, "render", "--out", out).returncode == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.yaml"
    victim.write_bytes(HEADER + b"kind: ConfigMap\n")
    (out / "away").symlink_to(outside)
    with (out / INDEX).open("a") as fh:
        fh.write("away/victim.yaml\naway/\n")

    assert run("--pins", pins, "render", "--out", out).returncode == 0

    assert victim.read_bytes() == HEADER + b"kind: ConfigMap\n"
    assert (out / "away").is_symlink()


def test_an_index_line_naming_a_users_empty_directory_keeps_it(tmp_path: Path) -> None:
    # item 5: `userempty/` in the index; render never created it for a file it wrote
    pins = project(tmp_path)
    out = tmp_path / "m"
    assert run("--pins", pins, "render", "--out", out).returncode == 0
    (out / "userempty").mkdir()
    with (out / INDEX).open("a") as fh:
        fh.write("userempty/\n")

    assert run("--pins", pins, "render", "--out", out).returncode == 0

    assert (out / "userempty").is_dir()
