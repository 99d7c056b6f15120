"""Render's output directory: its index, `.modelpins-rendered`, and its header, on the shared guarded tree writer.

Every rendered file starts with the render header, and the index lists what the last render
wrote; together they prove which files render owns (see `modelpins.outtree` for the rules:
no write through a link, no overwrite of a user's file, no deletion outside --out).
"""

from __future__ import annotations

from pathlib import Path

from modelpins import outtree
from modelpins.outtree import TreeChanges, check_out
from modelpins.serving.emit import HEADER

INDEX = ".modelpins-rendered"
INDEX_HEADER = "# Written by 'modelpins render': the files it rendered here and the directories it created.\n"
RENDER = outtree.Owner("modelpins render", INDEX, HEADER, index_header=INDEX_HEADER)

__all__ = ["INDEX", "RENDER", "TreeChanges", "check_out", "read_index", "write_tree"]


def read_index(out: Path) -> outtree.Index:
    """The index of the last render into `out` (empty when there is none). Entries outside `out` are ignored."""
    return outtree.read_index(out, RENDER)


def write_tree(out: Path, files: dict[str, bytes]) -> TreeChanges:
    """Make `out` hold exactly `files` among the files it rendered before; others are left alone."""
    return outtree.write_tree(out, files, RENDER)
