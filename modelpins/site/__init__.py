"""`modelpins site`: the board as a static site (HTML, CSS and inline SVG; no script).

index.html is the board, pending.html the open promotions, models/<name>.html a model's
page. The files go through the shared guarded tree writer (`modelpins.outtree`) with their own
index, `.modelpins-site`: a first write needs a new or empty directory, a file the site did not
write is never overwritten, and no link is followed.

Jinja2 renders the templates shipped in modelpins/site/templates with autoescaping on:
every string from the registry or the pins file is escaped.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from modelpins import outtree
from modelpins.board.views import Board
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
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["when"] = lambda iso: iso[:16].replace("T", " ") + " UTC" if iso else ""
    return env


def write(board: Board, out: Path) -> list[Path]:
    """Write the site into `out`; return the pages (written or already current)."""
    files = pages(board)
    outtree.write_tree(out, files, SITE)
    return [out / rel for rel in files if rel.endswith(".html")]


def pages(board: Board) -> dict[str, bytes]:
    """Every file of the site, by its path below the output directory."""
    env = environment()
    css = resources.files("modelpins.site").joinpath("templates").joinpath("style.css").read_text(encoding="utf-8")
    files = {"style.css": css.encode("utf-8")}
    common = {"board": board}
    for page in PAGES:
        files[page] = env.get_template(page + ".j2").render(**common, root="", page=page).encode("utf-8")
    template = env.get_template("model.html.j2")
    for m in board.models:
        now = {a: c.version for a, c in m.cells.items() if c.version is not None}
        chart = timeline.layout(m.moves, board.generated, now)
        html = template.render(**common, root="../", page="model", model=m, chart=chart)
        files[f"models/{m.name}.html"] = html.encode("utf-8")
    return files


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
