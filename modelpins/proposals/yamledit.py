"""Exact in-place edits of model_pins.yaml: only the characters that change are touched.

Each edit is located through the node tree of `yamlsrc.parse` (`start_mark.index`), so
comments, key order, quoting and blank lines stay as they are and `git diff` shows
only the lines that changed. Only block-style mappings are edited structurally
(inserted or removed lines); a flow mapping (`{a: 1}`) is refused with a fix.

Files are read and written as bytes (`read`, `write`): line endings stay as they are
(CRLF included), and `write` refuses to replace a file that changed since it was read, or a
symbolic link (it is never replaced by a regular file nor written through: pass its target).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from modelpins import safe_write
from modelpins.errors import InvalidInput, OperationFailed
from modelpins.yamlsrc import line_of, parse


@dataclass(frozen=True)
class Source:
    """A file as read for an edit: its exact text (line endings kept) and bytes."""

    path: Path
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


def read(path: Path) -> Source:
    try:
        return Source(path, path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None


def write(source: Source, new_text: str) -> None:
    """Replace the file with `new_text` unless someone changed it since `source` was read (OperationFailed)."""
    path = source.path
    safe_write.check_plain_file(path, "--pins or --out")  # a link is refused, never replaced by a regular file
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        current = b""
    if current != source.data:
        raise OperationFailed(
            f"{path} changed while modelpins was working on it (since it was read); nothing was written. "
            "Keep or commit your edit, then run the command again"
        )
    safe_write.write_file(path, new_text.encode("utf-8"), "--pins or --out")


@dataclass(frozen=True)
class Splice:
    start: int
    end: int
    text: str


def apply(text: str, splices: list[Splice]) -> str:
    # from the end backwards; at one position a removal goes before an insertion, so both land as meant
    for s in sorted(splices, key=lambda s: (s.start, s.end), reverse=True):
        text = text[: s.start] + s.text + text[s.end :]
    return text


class Doc:
    """The parsed file with helpers that turn node positions into splices of `text`."""

    def __init__(self, text: str, path: str):
        self.text = text
        self.path = path
        self.offset = 1 if text.startswith("\ufeff") else 0  # parse() drops a BOM before composing
        self.newline = "\r\n" if "\r\n" in text else "\n"
        root = parse(text, path)
        if not isinstance(root, yaml.MappingNode):
            raise InvalidInput(f"{path}: not a mapping at the top; cannot edit it")
        self.root = root

    def get(self, node: yaml.Node, key: str) -> tuple[yaml.ScalarNode, yaml.Node] | None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == key:
                    return k, v
        return None

    def model(self, model: str) -> yaml.Node:
        models = self.get(self.root, "models")
        found = self.get(models[1], model) if models else None
        if found is None:
            raise InvalidInput(f"{self.path}: model '{model}' is not in the file")
        return found[1]

    def aliases(self, model: str) -> yaml.Node:
        found = self.get(self.model(model), "aliases")
        if found is None:
            raise InvalidInput(f"{self.path}: model '{model}' has no aliases")
        return found[1]

    def replace(self, node: yaml.Node, value: str) -> Splice:
        return Splice(node.start_mark.index + self.offset, node.end_mark.index + self.offset, value)

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        """Index just after the newline ending the line that holds `index`."""
        end = self.text.find("\n", index)
        return len(self.text) if end < 0 else end + 1

    def entry_end(self, value: yaml.Node) -> int:
        """Index just after the last line of `value` (a block collection ends where its last leaf does)."""
        node = value
        while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style and node.value:
            last = node.value[-1]
            node = last[1] if isinstance(node, yaml.MappingNode) else last
        end = node.end_mark.index + self.offset
        return end if end > 0 and self.text[end - 1] == "\n" else self.line_end(end)

    def block(self, node: yaml.Node, what: str) -> yaml.MappingNode:
        if not isinstance(node, yaml.MappingNode) or node.flow_style or not node.value:
            raise InvalidInput(
                f"{self.path}:{line_of(node)}: {what} is empty or written in flow style ({{...}}), which "
                "modelpins does not edit; write it as 'key: value' lines, or make the change by hand"
            )
        return node

    def insert_entry(self, mapping: yaml.Node, line: str, what: str, after: yaml.Node | None = None) -> Splice:
        """A new `key: value` line after the mapping's last entry (or `after`), at its keys' indentation."""
        m = self.block(mapping, what)
        first_key, _ = m.value[0]
        at = self.entry_end(after if after is not None else m.value[-1][1])
        prefix = "" if at == 0 or self.text[at - 1] == "\n" else self.newline
        return Splice(
            at, at, prefix + " " * first_key.start_mark.column + line.replace("\n", self.newline) + self.newline
        )

    def remove_entry(self, mapping: yaml.Node, key: str, what: str) -> Splice:
        m = self.block(mapping, what)
        for k, v in m.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                start = self.line_start(k.start_mark.index + self.offset)
                return Splice(start, self.entry_end(v), "")
        raise InvalidInput(f"{self.path}: no '{key}' in {what}")


def set_version_text(text: str, path: str, versions: dict[tuple[str, str], int]) -> str:
    """`text` with each (model, alias) version scalar replaced; nothing else changes."""
    doc = Doc(text, path)
    splices = []
    for (model, alias), version in versions.items():
        found = doc.get(doc.aliases(model), alias)
        if found is None:
            raise InvalidInput(f"{path}: {model}@{alias} is not pinned in the file")
        splices.append(doc.replace(found[1], str(version)))
    return apply(text, splices)
