"""Read the site's pages as a browser would: html5lib's strict HTML5 parser (a parse error fails)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib

SVG = "{http://www.w3.org/2000/svg}"


def parse(path: Path) -> ET.Element:
    parser = html5lib.HTMLParser(strict=True, tree=html5lib.getTreeBuilder("etree"), namespaceHTMLElements=False)
    return parser.parse(path.read_bytes())


def text(el: ET.Element) -> str:
    return " ".join("".join(el.itertext()).split())


def cell(root: ET.Element, model: str, alias: str) -> ET.Element:
    found = root.find(f".//td[@data-model='{model}'][@data-alias='{alias}']")
    assert found is not None, f"no board cell for {model}@{alias}"
    return found


def links(el: ET.Element) -> dict[str, str]:
    """link text -> href."""
    return {text(a): a.get("href", "") for a in el.iter("a")}
