"""Strict YAML reading: a node tree with line numbers, or a list of located problems.

PyYAML silently keeps the last of two equal keys, expands anchors (the "billion
laughs" bomb) and reads `on`/`yes` as booleans. This module reads the event
stream first (iteratively, so nesting depth and anchors are caught before any
recursion), then composes nodes and checks keys. `tree` turns the nodes into plain
data for schema validation and keeps each value's node by path, so a schema error
located by its path of keys can name the line.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from modelpins.errors import InvalidInput, InvalidPins, Problem

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
_PARSER_DEPTH_LIMIT = "maximum nesting depth"  # PyYAML's own limit (6.0.4 on), reported as ours
DECIMAL_INT = re.compile(r"-?(0|[1-9][0-9]*)", re.ASCII)  # plain digits; a sign only to say "out of range"
DECIMAL_NUMBER = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?", re.ASCII)
TOO_LONG = 10**20  # a whole number of more digits is read as this (int() of 5,000 digits is an error)
STR, INT, FLOAT, BOOL, NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))


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
    (`/dev/zero`) is refused with InvalidPins (exit 2), never read whole. A named pipe or socket
    is refused without waiting for a writer (InvalidInput): reading one could block forever."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # opening a pipe does not wait
    with open(fd, "rb") as fh:
        if stat.S_ISFIFO(os.fstat(fd).st_mode) or stat.S_ISSOCK(os.fstat(fd).st_mode):
            raise InvalidInput(f"{path} is a named pipe, not a file; fix: pass the file itself (e.g. --pins PATH)")
        os.set_blocking(fd, True)
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


def _allowed(event: yaml.Event, path: str, line: int, documents: int) -> int:
    """InvalidPins for an anchor, an alias or a second document; 1 when `event` starts a document."""
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
    if not isinstance(event, yaml.DocumentStartEvent):
        return 0
    if documents:
        raise InvalidPins([Problem(path, line, "more than one YAML document ('---')", "keep one document per file")])
    return 1


def _nesting(event: yaml.Event) -> int:
    """+1 where a mapping or sequence starts, -1 where one ends."""
    if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
        return 1
    return -1 if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)) else 0


def _check_events(text: str, path: str, loader: type = Loader) -> None:
    depth = 0
    documents = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark else 1
            documents += _allowed(event, path, line, documents)
            depth += _nesting(event)
            if depth > MAX_DEPTH:
                raise _too_deep(path, line)
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


Loc = tuple[object, ...]


class Unreadable:
    """A scalar no field accepts: an INT that is not a decimal number, or a tag outside YAML's core types."""

    def __init__(self, text: str):
        self.text = text


@dataclass
class Tree:
    """The document as plain data (dict, list, str, int, float, bool, None) and each value's nodes by path.

    A path is the tuple of keys and list indexes leading to a value, the way validation
    libraries locate their errors. Keys YAML reads as anything but text are left out of
    `data` and listed in `bad_keys` with the path of their mapping.
    """

    data: object = None
    nodes: dict[Loc, yaml.Node] = field(default_factory=dict)
    keys: dict[Loc, yaml.Node] = field(default_factory=dict)
    bad_keys: list[tuple[Loc, yaml.Node]] = field(default_factory=list)

    def line(self, loc: Loc) -> int:
        return line_of(self.nodes[loc])

    def key_line(self, loc: Loc) -> int:
        return line_of(self.keys[loc])


def tree(root: yaml.Node) -> Tree:
    out = Tree()
    out.data = _plain(root, (), out)
    return out


def _plain(node: yaml.Node, loc: Loc, out: Tree) -> object:
    out.nodes[loc] = node
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, object] = {}
        for key, value in node.value:
            if not (isinstance(key, yaml.ScalarNode) and key.tag == STR):
                out.bad_keys.append((loc, key))
                continue
            here = loc + (key.value,)
            out.keys[here] = key
            mapping[key.value] = _plain(value, here, out)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, loc + (i,), out) for i, item in enumerate(node.value)]
    return scalar(node)


def scalar(node: yaml.Node) -> object:
    """The value of a scalar node under YAML 1.1's core types, or Unreadable."""
    text = str(node.value)
    if node.tag == STR:
        return text
    if node.tag == NULL:
        return None
    if node.tag == BOOL:
        return text.lower() in ("true", "yes", "on", "y")
    if node.tag == INT and DECIMAL_INT.fullmatch(text):  # YAML 1.1 also reads 0x3, 0b10, 0o7, 010, 1_0, 1:30
        return int(text) if len(text) <= 20 else -TOO_LONG if text.startswith("-") else TOO_LONG
    if node.tag == FLOAT and text.lower().lstrip("+-") in (".inf", ".nan"):
        return float(yaml.safe_load(text))
    if node.tag == FLOAT and DECIMAL_NUMBER.fullmatch(text):
        return float(text)
    return Unreadable(text)


def kind_of(node: yaml.Node) -> str:
    """How a message names what a node holds: 'a list', "a boolean 'yes'", 'text'."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    names = {STR: "text", INT: "a whole number", FLOAT: "a decimal number", BOOL: "a boolean", NULL: "empty (null)"}
    kind = names.get(node.tag, node.tag)
    return f"{kind} '{node.value}'" if node.value and node.tag != STR else kind
