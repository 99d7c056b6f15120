"""Strict YAML reading: a node tree with line numbers, or a list of located problems.

PyYAML silently keeps the last of two equal keys, expands anchors (the "billion
laughs" bomb) and reads `on`/`yes` as booleans. This module reads the event
stream first (iteratively, so nesting depth and anchors are caught before any
recursion), then composes nodes and checks keys; schema code walks the nodes
through `Reader`, which records every problem instead of stopping at the first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import yaml

from modelpins.errors import InvalidPins, Problem

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
_PARSER_DEPTH_LIMIT = "maximum nesting depth"  # PyYAML's own limit (6.0.4 on), reported as ours
DECIMAL_INT = re.compile(r"-?(0|[1-9][0-9]*)", re.ASCII)  # plain digits; a sign only to say "out of range"
DECIMAL_NUMBER = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?", re.ASCII)
STR, INT, FLOAT, BOOL, NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))
T = TypeVar("T")


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def parse(text: str | bytes, path: str) -> yaml.Node | None:
    """Parse one YAML document into nodes; raise InvalidPins on anything unsafe or ambiguous."""
    if isinstance(text, bytes):
        text = decode(text, path)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise too_large(path)
    text = text.removeprefix("\ufeff")
    _check_events(text, path)
    try:
        node = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:  # pragma: no cover - events pass catches these first
        raise _syntax_error(exc, path, text) from None
    if node is not None:
        problems: list[Problem] = []
        _check_keys(node, path, problems)
        if problems:
            raise InvalidPins(problems)
    return node


def read_limited(path: Path, limit: int = MAX_BYTES) -> bytes:
    """A file's bytes, reading at most `limit` + 1 of them: a larger file, stream or device
    (`/dev/zero`) is refused with InvalidPins (exit 2), never read whole."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise too_large(str(path), limit)
    return data


def too_large(path: str, limit: int = MAX_BYTES) -> InvalidPins:
    size = f"{limit // 1024 // 1024} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return InvalidPins(
        [Problem(path, 1, f"file is larger than {size}", "split it or remove generated content; a pins file is small")]
    )


def decode(data: bytes, path: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4]:
        raise InvalidPins([Problem(path, 1, "file is UTF-16 or UTF-32 encoded", "save it as UTF-8")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidPins(
            [Problem(path, line, f"invalid UTF-8 byte at offset {exc.start}", "save the file as UTF-8")]
        ) from None


def _syntax_error(exc: yaml.MarkedYAMLError, path: str, text: str) -> InvalidPins:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
    hint = "fix the YAML syntax at that line"
    lines = text.splitlines()
    if line > len(lines):  # the parser stopped at the end of the file: point at its last line
        line = max(len(lines), 1)
        what += " (the file ends before this is closed)"
        hint = "close the open bracket or quote, or restore the missing end of the file"
    elif "\t" in lines[line - 1]:
        hint = "indent with spaces; YAML does not allow tabs"
    return InvalidPins([Problem(path, line, f"invalid YAML: {what}", hint)])


def _check_events(text: str, path: str, loader: type = Loader) -> None:
    depth = 0
    documents = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark else 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise InvalidPins(
                    [
                        Problem(
                            path,
                            line,
                            "YAML anchors and aliases (&name, *name) are not allowed",
                            "write the value out in full; every pin must be readable where it stands",
                        )
                    ]
                )
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise InvalidPins(
                        [Problem(path, line, "more than one YAML document ('---')", "keep one document per file")]
                    )
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(path, line)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        if _PARSER_DEPTH_LIMIT in str(exc.problem):
            if loader is not yaml.SafeLoader:
                # libyaml scans a run of flow brackets ahead of the events, so its own limit (1,000 levels
                # since PyYAML 6.0.4) fires before this one can; the pure-Python scanner yields as it goes.
                _check_events(text, path, yaml.SafeLoader)
            raise _too_deep(path, exc.problem_mark.line + 1 if exc.problem_mark else 1) from None
        raise _syntax_error(exc, path, text) from None
    except yaml.YAMLError as exc:  # reader errors (control characters) carry no problem_mark
        mark = getattr(exc, "position", None)
        line = text[:mark].count("\n") + 1 if isinstance(mark, int) else 1
        char = getattr(exc, "character", None)
        code = ord(char) if isinstance(char, str) else char  # the C reader gives the code point
        shown = f"U+{code:04X}" if isinstance(code, int) else "a character"
        message = f"invalid YAML: {shown} (a control character) is not allowed"
        raise InvalidPins([Problem(path, line, message, "remove the unprintable character")]) from None


def _too_deep(path: str, line: int) -> InvalidPins:
    hint = "flatten the structure; the schema is at most a few levels deep"
    return InvalidPins([Problem(path, line, f"nesting deeper than {MAX_DEPTH} levels", hint)])


def _check_keys(root: yaml.Node, path: str, problems: list[Problem]) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    problems.append(
                        Problem(
                            path, line_of(key), "YAML merge keys ('<<') are not allowed", "write the keys out in full"
                        )
                    )
                if isinstance(key, yaml.ScalarNode):
                    ident = (key.tag, key.value)
                    if ident in seen:
                        problems.append(
                            Problem(
                                path,
                                line_of(key),
                                f"duplicate key '{key.value}' (first at line {seen[ident]})",
                                "remove one of them; YAML would silently keep the last",
                            )
                        )
                    else:
                        seen[ident] = line_of(key)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


class Reader:
    """Typed accessors over nodes that record problems and return None on a bad value."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node | int, message: str, fix: str) -> None:
        line = node if isinstance(node, int) else line_of(node)
        self.problems.append(Problem(self.path, line, message, fix))

    def raise_if_any(self) -> None:
        if self.problems:
            raise InvalidPins(self.problems)

    def mapping(
        self, node: yaml.Node, what: str, allowed: tuple[str, ...] = (), required: tuple[str, ...] = ()
    ) -> dict[str, yaml.Node] | None:
        """A mapping with string keys; with `allowed`, unknown and missing keys are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(
                node,
                f"{what} must be a mapping (key: value), not {_kind(node)}",
                "write 'key: value' lines indented under it",
            )
            return None
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not (isinstance(key, yaml.ScalarNode) and key.tag == STR):
                shown = key.value if isinstance(key, yaml.ScalarNode) else _kind(key)
                self.problem(
                    key,
                    f"key '{shown}' in {what} is read by YAML as {_kind(key)}, not text",
                    f"quote it: '{shown}': ...",
                )
                continue
            if allowed and key.value not in allowed:
                close = difflib.get_close_matches(key.value, allowed, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
                self.problem(key, f"unknown field '{key.value}' in {what}", hint)
                continue
            out[key.value] = value
        for name in required:
            if name not in out:
                self.problem(node, f"{what} is missing required field '{name}'", f"add '{name}: ...'")
        return out

    def items(self, node: yaml.Node, what: str) -> Iterator[tuple[yaml.ScalarNode, yaml.Node]]:
        """(key node, value node) pairs of a mapping whose keys are names chosen by the user."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(
                node,
                f"{what} must be a mapping (name: value), not {_kind(node)}",
                "write 'name: value' lines indented under it",
            )
            return
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag == STR:
                yield key, value
            else:
                shown = key.value if isinstance(key, yaml.ScalarNode) else _kind(key)
                self.problem(
                    key,
                    f"name '{shown}' in {what} is read by YAML as {_kind(key)}, not text",
                    f"quote it: '{shown}': ...",
                )

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node] | None:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        self.problem(node, f"{what} must be a list, not {_kind(node)}", "write it as [a, b] or '- a' lines")
        return None

    def string(self, node: yaml.Node, what: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == STR and node.value:
            return str(node.value)
        self.problem(node, f"{what} must be non-empty text, not {_kind(node)}", "quote the value")
        return None

    def integer(self, node: yaml.Node, what: str, lo: int, hi: int) -> int | None:
        if not (isinstance(node, yaml.ScalarNode) and node.tag == INT):
            quoted = isinstance(node, yaml.ScalarNode) and node.style in ("'", '"')
            fix = "write it without quotes, e.g. 3" if quoted else "write it as plain digits, e.g. 3"
            shown = f"'{node.value[:40]}'" if isinstance(node, yaml.ScalarNode) and node.tag == STR else _kind(node)
            self.problem(node, f"{what} must be a whole number, not {shown}", fix)
            return None
        if not DECIMAL_INT.fullmatch(node.value):  # YAML 1.1 also reads 0x3, 0b10, 0o7, 010, 1_0, 1:30
            self.problem(
                node, f"{what} '{node.value[:40]}' is not a plain decimal number", "write it as plain digits, e.g. 3"
            )
            return None
        value = int(node.value) if len(node.value) <= 20 else hi + 1  # int() of 5,000 digits is an error
        if not lo <= value <= hi:
            shown = node.value if len(node.value) <= 20 else node.value[:20] + "..."
            self.problem(node, f"{what} {shown} is out of range", f"use a number from {lo} to {hi}")
            return None
        return value

    def number(self, node: yaml.Node, what: str, lo: float | None = None, hi: float | None = None) -> float | None:
        if not (isinstance(node, yaml.ScalarNode) and node.tag in (INT, FLOAT)):
            self.problem(node, f"{what} must be a number, not {_kind(node)}", "write it without quotes, e.g. 0.9")
            return None
        if node.value.lower().lstrip("+-") in (".inf", ".nan"):
            self.problem(node, f"{what} must be a finite number", "write a plain number")
            return None
        if not DECIMAL_NUMBER.fullmatch(node.value):
            self.problem(node, f"{what} '{node.value[:40]}' is not a plain decimal number", "write it like 0.9 or 3")
            return None
        value = float(node.value)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.problem(node, f"{what} {value:g} is out of range", f"use a number from {lo} to {hi}")
            return None
        return value

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == BOOL:
            return node.value.lower() in ("true", "yes", "on", "y")
        self.problem(node, f"{what} must be true or false, not {_kind(node)}", "write true or false")
        return None

    def strings(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        values = self.sequence(node, what) or []
        out = (self.string(item, f"each entry of {what}") for item in values)
        return tuple(v for v in out if v is not None)


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    names = {STR: "text", INT: "a whole number", FLOAT: "a decimal number", BOOL: "a boolean", NULL: "empty (null)"}
    kind = names.get(node.tag, node.tag)
    return f"{kind} '{node.value}'" if node.value and node.tag != STR else kind
