"""The generated reference pages of the documentation site, made from the code so they cannot drift.

Each page under docs/reference/ holds a marker `<!-- reference:NAME -->` that the MkDocs hook
(devkit/mkdocs_hooks.py) replaces, on every build, with `SECTIONS[NAME]()`: the model_pins.yaml schema
from schema/model_pins.schema.json, the tags and labels from modelpins/tags.py, the environment variables
from modelpins/envvars.py and the exit codes from modelpins/errors.py. The CLI page is rendered by
mkdocs-click from the click definitions themselves (`::: mkdocs-click` in docs/reference/cli.md).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from modelpins import envvars, errors, tags

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schema" / "model_pins.schema.json"
MARKER = re.compile(r"<!-- reference:([a-z-]+) -->")


def schema_page(schema: dict[str, Any] | None = None) -> str:
    """Every field of model_pins.yaml: the document, then each object type the schema defines."""
    schema = schema if schema is not None else json.loads(SCHEMA.read_text(encoding="utf-8"))
    parts = [f"## The document\n\n{schema.get('description', '')}\n\n{_fields(schema)}"]
    for name, spec in sorted(schema.get("$defs", {}).items()):
        parts.append(f"## {name}\n\n{_escape(spec.get('description', ''))}\n\n{_fields(spec)}")
    return "\n\n".join(parts) + "\n"


def schema_fields(schema: dict[str, Any] | None = None) -> Iterator[tuple[str, str]]:
    """(object type, field) of every field the schema declares; the document's own type is `document`."""
    schema = schema if schema is not None else json.loads(SCHEMA.read_text(encoding="utf-8"))
    for field in schema.get("properties", {}):
        yield "document", field
    for name, spec in schema.get("$defs", {}).items():
        for field in spec.get("properties", {}):
            yield name, field


def _fields(spec: dict[str, Any]) -> str:
    props = spec.get("properties", {})
    if not props:
        return "No fields."
    required = set(spec.get("required", []))
    rows = ["| field | type | required | default | description |", "| --- | --- | --- | --- | --- |"]
    for name, prop in props.items():
        default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
        cells = (f"`{name}`", _type(prop), "yes" if name in required else "", default, prop.get("description", ""))
        rows.append("| " + " | ".join(_escape(c) for c in cells) + " |")
    return "\n".join(rows)


def _type(prop: dict[str, Any]) -> str:
    """A short reading of a JSON Schema type: `string`, `list of X`, `map of X`, links to object types."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " or ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    for key in ("anyOf", "oneOf"):
        if key in prop:
            return " or ".join(_type(p) for p in prop[key] if p.get("type") != "null")
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of {_type(prop['additionalProperties'])}"
    return str(kind)


def _escape(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")


def tags_page() -> str:
    """modelpins/tags.py's contract (its docstring) and every name it defines, with its value."""
    doc = inspect.getdoc(tags) or ""
    rows = ["| constant | name or prefix |", "| --- | --- |"]
    rows += [f"| `tags.{name}` | `{value}` |" for name, value in _constants(tags)]
    return f"{doc}\n\n## Every name, as modelpins/tags.py defines it\n\n" + "\n".join(rows) + "\n"


def _constants(module: Any) -> list[tuple[str, str]]:
    return [(n, v) for n, v in vars(module).items() if n.isupper() and isinstance(v, str)]


def envvars_page() -> str:
    """modelpins/envvars.py's table, and every variable name the package reads through it."""
    doc = inspect.getdoc(envvars) or ""
    checked = read_variables()
    others = named_variables() - checked
    return (
        f"{doc}\n\n## Every variable read through modelpins/envvars.py\n\n{_list(checked)}\n\n"
        "## Other variables the package names\n\n"
        "Read as they are (GitHub Actions' own, `MLFLOW_TRACKING_URI` as the default of `--tracking-uri`), "
        f"or set for the processes modelpins starts:\n\n{_list(others)}\n"
    )


def _list(names: set[str]) -> str:
    return "\n".join(f"- `{name}`" for name in sorted(names))


def named_variables() -> set[str]:
    """Every string literal in the package that is a MODELPINS_, MLFLOW_ or GITHUB_ variable name."""
    name = re.compile(r"""["'](?P<name>(?:MODELPINS|MLFLOW|GITHUB)_[A-Z0-9_]*[A-Z0-9])["']""")
    found: set[str] = set()
    for path in (ROOT / "modelpins").rglob("*.py"):
        found.update(m.group("name") for m in name.finditer(path.read_text(encoding="utf-8")))
    return found


def read_variables() -> set[str]:
    """The names passed, as string literals, to envvars' readers anywhere in the package."""
    readers = {"number", "integer", "choice", "text", "secret", "readable_file"}
    found: set[str] = set()
    for path in sorted((ROOT / "modelpins").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _string_constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_reader_call(node, readers):
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
                elif isinstance(first, ast.Name) and first.id in names:
                    found.add(names[first.id])
    return found


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """The module's `NAME = "text"` assignments, for a variable name passed by its constant."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return found


def _is_reader_call(node: ast.Call, readers: set[str]) -> bool:
    if not node.args:
        return False
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr in readers and getattr(func.value, "id", "") == "envvars"


def exit_codes_page() -> str:
    """Each exit code with the error classes that give it, from modelpins/errors.py."""
    rows = ["| exit code | error | meaning |", "| --- | --- | --- |", "| `0` | | ok |"]
    for cls in _error_classes(errors.ModelPinsError):
        doc = " ".join((cls.__doc__ or "unexpected: a bug in modelpins (rerun with --traceback and report it)").split())
        rows.append(f"| `{cls.exit_code}` | `{cls.__name__}` | {_escape(doc)} |")
    rows.append("| `130` | | interrupted (Ctrl-C) |")
    head = inspect.getdoc(errors) or ""
    return f"{head}\n\n" + "\n".join(rows) + "\n"


def _error_classes(base: type[errors.ModelPinsError]) -> list[type[errors.ModelPinsError]]:
    found = [base]
    for sub in base.__subclasses__():
        found += _error_classes(sub)
    return sorted(found, key=lambda c: (c.exit_code, c.__name__ != base.__name__, c.__name__))


SECTIONS: dict[str, Callable[[], str]] = {
    "schema": schema_page,
    "tags": tags_page,
    "envvars": envvars_page,
    "exit-codes": exit_codes_page,
}


def expand(markdown: str) -> str:
    """`markdown` with each `<!-- reference:NAME -->` marker replaced by the generated section."""

    def section(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in SECTIONS:
            raise ValueError(f"unknown reference section {name!r}; known: {', '.join(SECTIONS)}")
        return SECTIONS[name]()

    return MARKER.sub(section, markdown)
