"""The pins file read at a git ref, in a real temporary repository."""

from __future__ import annotations

import subprocess

import pytest

from modelpins import pins
from modelpins.errors import InvalidInput
from modelpins.plan import between
from tests.helpers.seed import write_pins


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_changes_between_base_ref_and_working_copy(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    path = write_pins(tmp_path / "model_pins.yaml", {"m": {"champion": 1, "old": 1}})
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    write_pins(path, {"m": {"champion": 2, "challenger": 3}, "n": {"champion": 1}})

    base = pins.load_at(path, "main")
    assert base is not None
    changes = [(c.model, c.alias, c.before, c.after) for c in between(base, pins.load(path))]
    assert changes == [
        ("m", "champion", 1, 2),
        ("m", "challenger", None, 3),
        ("n", "champion", None, 1),
        ("m", "old", 1, None),
    ]


def test_unknown_ref_and_option_like_ref_are_invalid_input(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    path = write_pins(tmp_path / "model_pins.yaml", {"m": {"champion": 1}})
    with pytest.raises(InvalidInput, match="fetch it first"):
        pins.load_at(path, "origin/nope")
    with pytest.raises(InvalidInput, match="not a git ref"):
        pins.load_at(path, "--output=/tmp/x")
