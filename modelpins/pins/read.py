"""Reading a pins file: YAML safety checks (yamlsrc), the schema (pydantic), then the checks across sections."""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from modelpins.errors import InvalidInput, InvalidPins, Problem
from modelpins.pins.checks import cross_check
from modelpins.pins.data import PinsFile
from modelpins.yamlsrc import Tree, parse, read_limited, tree

_LOADER = "pydantic.plugin._loader"


@contextmanager
def _no_plugins() -> Iterator[None]:
    """pydantic looks for plugins in every installed distribution when it builds a validator; the
    schema's models take none (PYDANTIC_DISABLE_PLUGINS), and a cold start should not pay for the
    search, nor for importing importlib.metadata (email, zipfile, csv: 6% of an offline `validate`)
    only to be told there are none: while the schema builds, pydantic's plugin loader is one that
    answers "no plugins", as the real one does when they are disabled. It is put back afterwards."""
    before = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    none = types.ModuleType(_LOADER)
    none.get_plugins = tuple  # type: ignore[attr-defined]  # tuple() == (): get_plugins() when disabled
    sys.modules.setdefault(_LOADER, none)  # the real one stays if it was imported already
    try:
        yield
    finally:
        if sys.modules.get(_LOADER) is none:
            del sys.modules[_LOADER]
        if before is None:
            del os.environ["PYDANTIC_DISABLE_PLUGINS"]
        else:
            os.environ["PYDANTIC_DISABLE_PLUGINS"] = before


with _no_plugins():
    from modelpins.pins.document import Document

    Document.model_rebuild()  # the one validator a file needs (its sections' models defer theirs: defer_build)


def load(path: str | Path) -> PinsFile:
    """Read and check a pins file; raise InvalidPins listing every problem with its line."""
    path = Path(path)
    try:
        data = read_limited(path)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: file not found (pass --pins PATH or create model_pins.yaml)") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    return loads(data, str(path))


def loads(text: str | bytes, path: str = "model_pins.yaml") -> PinsFile:
    root = parse(text, path)
    if root is None:
        raise InvalidPins([Problem(path, 1, "file is empty", "start with 'version: 1' and 'models:'")])
    at = tree(root)
    try:
        doc = Document.model_validate(at.data)
    except ValidationError as exc:
        from modelpins.pins.problems import problems

        found = problems(exc, at, path)
        raise InvalidPins(found + cross_check(*_valid_part(exc, at, path))) from None
    pins = doc.to_pins(path, at)
    found = cross_check(pins)
    if at.bad_keys:
        from modelpins.pins.problems import problems

        found = problems(None, at, path) + found
    if found:
        raise InvalidPins(found)
    return pins


SECTIONS = ("models", "environments", "deployments")


def _valid_part(exc: ValidationError, at: Tree, path: str) -> tuple[PinsFile, set[tuple[str, str]]]:
    """The entries of a file that failed validation which are valid on their own, and the names of the others.

    The checks across sections then run on what is valid, so that every problem is reported at once.
    """
    failed = {(str(e["loc"][0]), str(e["loc"][1])) for e in exc.errors() if len(e["loc"]) >= 2}
    failed |= {(str(loc[0]), str(loc[1])) for loc, _ in at.bad_keys if len(loc) >= 2}
    data = at.data if isinstance(at.data, dict) else {}
    whole_section_failed = {e["loc"][0] for e in exc.errors() if len(e["loc"]) == 1}
    fields = Document.model_fields
    part: dict[str, object] = {"version": 1, "models": {}}
    for section in SECTIONS:
        entries = data.get(section)
        if section in whole_section_failed or not isinstance(entries, dict):
            continue
        with _no_plugins():
            spec: TypeAdapter[dict[str, object]] = TypeAdapter(fields[section].annotation)  # type: ignore[arg-type]
        part[section] = spec.validate_python({k: v for k, v in entries.items() if (section, k) not in failed})
    if not any(e["loc"][:1] == ("defaults",) for e in exc.errors()) and "defaults" in data:
        part["defaults"] = data["defaults"]
    doc = Document.model_validate(part)
    return doc.to_pins(path, at), failed
