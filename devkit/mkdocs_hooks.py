"""MkDocs hooks (mkdocs.yml `hooks:`): the reference pages are generated from the code on every build.

A page's `<!-- reference:NAME -->` marker becomes devkit.reference's section NAME, so `make docs`
always shows the schema, tags, environment variables and exit codes of the tree it builds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # mkdocs loads this file by path; devkit and modelpins live at the root
    sys.path.insert(0, str(ROOT))

from devkit import reference  # noqa: E402


def on_page_markdown(markdown: str, **_: Any) -> str:
    return reference.expand(markdown)
