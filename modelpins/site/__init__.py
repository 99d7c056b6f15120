"""`modelpins site`: the board as a static site (HTML, CSS, inline SVG, and one small inline script).

index.html is the board, with a search and filters (model, owner, alias, environment, drift,
pending) and what every badge means; pending.html the open promotions; models/<name>.html a
model's page, linking back to the board and to its two neighbours only, so a page's size does
not depend on how many other models there are. The files go through the shared guarded tree
writer (`modelpins.outtree`) with their own index, `.modelpins-site`: a first write needs a new or
empty directory, a file the site did not write is never overwritten, and no link is followed.

Jinja2 renders the templates shipped in modelpins/site/templates with autoescaping on:
every string from the registry or the pins file is escaped. The board's script (board.js,
inlined) reads that text back from data attributes and only sets `hidden` and `textContent`:
it never builds HTML. Each page carries a Content-Security-Policy that allows no script but
that one (by its sha256), no external resource, no form target and no plugin.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelpins import outtree, progress
from modelpins.board.views import Board, ModelView
from modelpins.site import timeline

if TYPE_CHECKING:
    import jinja2

PAGES = ("index.html", "pending.html")
SITE = outtree.Owner(
    "modelpins site",
    ".modelpins-site",
    fresh_only=True,
    index_header="# Written by 'modelpins site': the files it wrote here and the directories it created.\n",
)


def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("modelpins.site", "templates"),
        autoescape=True,
        auto_reload=False,  # packaged templates: compiled once, not checked on disk again for each page
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["when"] = lambda iso: iso[:16].replace("T", " ") + " UTC" if iso else ""
    env.filters["version"] = lambda number, unset: unset if number is None else f"v{number}"
    return env


def write(board: Board, out: Path, step: progress.Step = progress.noop) -> list[Path]:
    """Write the site into `out`; return the pages (written or already current). `step`: once per model page."""
    files = pages(board, step)
    outtree.write_tree(out, files, SITE)
    return [out / rel for rel in files if rel.endswith(".html")]


def csp(script: str) -> str:
    """The pages' Content-Security-Policy: the stylesheet beside them, inline styles, and `script` alone."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'"
    )


def pages(board: Board, step: progress.Step = progress.noop) -> dict[str, bytes]:
    """Every file of the site, by its path below the output directory."""
    import markupsafe

    env = environment()
    templates = resources.files("modelpins.site").joinpath("templates")
    css = templates.joinpath("style.css").read_text(encoding="utf-8")
    script = templates.joinpath("board.js").read_text(encoding="utf-8")
    files = {"style.css": css.encode("utf-8")}
    common = {"board": board, "csp": csp(script)}
    extra = {"facets": facets(board), "script": markupsafe.Markup(script)}  # noqa: S704 - the packaged board.js
    for page in PAGES:
        files[page] = env.get_template(page + ".j2").render(**common, **extra, root="", page=page).encode("utf-8")
    template = env.get_template("model.html.j2")
    names = [m.name for m in board.models]
    for i, m in progress.each(list(enumerate(board.models)), step, lambda item: item[1].name):
        now = {a: c.version for a, c in m.cells.items() if c.version is not None}
        chart = timeline.layout(m.moves, board.generated, now)
        prev, next_ = names[i - 1] if i > 0 else "", names[i + 1] if i + 1 < len(names) else ""
        html = template.render(**common, root="../", page="model", model=m, chart=chart, prev=prev, next=next_)
        files[f"models/{m.name}.html"] = html.encode("utf-8")
    return files


def facets(board: Board) -> dict[str, Any]:
    """What the board's filters offer (owners, environments) and each model's row data, as JSON lists."""
    pending = {p.change.model for p in board.pending}
    rows = {m.name: _row(m, m.name in pending) for m in board.models}
    owners = sorted({o for m in board.models for o in m.owners})
    envs = sorted({s.environment for m in board.models for c in m.cells.values() for s in c.serving})
    return {"owners": owners, "envs": envs, "rows": rows}


def _row(m: ModelView, pending: bool) -> dict[str, str]:
    envs = sorted({s.environment for c in m.cells.values() for s in c.serving})
    return {
        "owners": json.dumps(list(m.owners)),
        "aliases": json.dumps([a for a, c in m.cells.items() if c.version is not None or c.pinned is not None]),
        "envs": json.dumps(envs),
        "drifted": "1" if any(c.drift for c in m.cells.values()) else "0",
        "pending": "1" if pending else "0",
    }


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
