"""`modelpins site`: the board as a static site (HTML, CSS and inline SVG; no script).

index.html is the board, pending.html the open promotions, models/<name>.html a model's
page. Jinja2 renders the templates shipped in modelpins/site/templates with autoescaping on:
every string from the registry or the pins file is escaped.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from modelpins.board.views import Board
from modelpins.site import timeline

if TYPE_CHECKING:
    import jinja2

PAGES = ("index.html", "pending.html")


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
    """Write the site into `out`; return the pages written."""
    env = environment()
    (out / "models").mkdir(parents=True, exist_ok=True)
    css = resources.files("modelpins.site").joinpath("templates").joinpath("style.css").read_text(encoding="utf-8")
    (out / "style.css").write_text(css, encoding="utf-8")
    written = []
    common = {"board": board}
    for page in PAGES:
        html = env.get_template(page + ".j2").render(**common, root="", page=page)
        written.append(_put(out / page, html))
    template = env.get_template("model.html.j2")
    for m in board.models:
        now = {a: c.version for a, c in m.cells.items() if c.version is not None}
        chart = timeline.layout(m.moves, board.generated, now)
        html = template.render(**common, root="../", page="model", model=m, chart=chart)
        written.append(_put(out / "models" / f"{m.name}.html", html))
    return written


def _put(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
