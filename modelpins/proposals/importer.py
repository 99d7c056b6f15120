"""Import: the pins file written from the registry's current aliases, for a team adopting modelpins.

A new file is `pins.dump`'s canonical layout. An existing file gains only the models it
does not name, appended to its `models:` block as new lines: what is there keeps its
bytes, comments and order. A model with an alias the schema rejects (a reserved name,
two aliases that differ only in case) is left out whole and reported, so that `apply`
never deletes an alias nobody chose to drop. Pure: the registry's state is passed in.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import yaml

from modelpins import pins
from modelpins.errors import InvalidInput, InvalidPins
from modelpins.proposals import yamledit


@dataclass(frozen=True)
class Skipped:
    model: str
    alias: str | None
    reason: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.model}@{self.alias}" if self.alias else self.model
        return f"{where}: {self.reason}; fix: {self.fix}"


@dataclass(frozen=True)
class Imported:
    text: str
    added: list[str]  # models written, in file order
    kept: list[str]  # models the existing file already had (left as they are)
    skipped: list[Skipped]  # models left out because the schema would reject them
    without_aliases: list[str]  # registered models with no alias (nothing to pin)


def select(state: dict[str, dict[str, int]], globs: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """The models whose name matches one of `globs` (all when none); InvalidInput when a glob matches nothing."""
    if not globs:
        return dict(state)
    unmatched = [g for g in globs if not any(fnmatch.fnmatchcase(name, g) for name in state)]
    if unmatched:
        raise InvalidInput(
            f"no registered model matches --model {', '.join(repr(g) for g in unmatched)} "
            f"(of {len(state)} models); fix: check the name, globs are case-sensitive (e.g. 'credit-*')"
        )
    return {name: a for name, a in state.items() if any(fnmatch.fnmatchcase(name, g) for g in globs)}


def importable(state: dict[str, dict[str, int]]) -> tuple[dict[str, pins.ModelPins], list[Skipped], list[str]]:
    """(models to write, sorted by name, aliases sorted; models left out and why; models without aliases)."""
    models: dict[str, pins.ModelPins] = {}
    skipped: list[Skipped] = []
    bare: list[str] = []
    for name in sorted(state):
        aliases = state[name]
        if not aliases:
            bare.append(name)
            continue
        problems = _problems(name, aliases)
        if problems:
            skipped += problems
            continue
        models[name] = pins.ModelPins(
            name=name, aliases={a: pins.AliasPin(alias=a, version=v) for a, v in sorted(aliases.items())}
        )
    return models, skipped, bare


def _problems(name: str, aliases: dict[str, int]) -> list[Skipped]:
    fix = "rename it in MLflow (set the new alias, delete the old one), then import again"
    if not pins.MODEL_RE.fullmatch(name):
        return [Skipped(name, None, "the model name is not allowed in the pins file", "rename the model in MLflow")]
    out = []
    seen: dict[str, str] = {}
    for alias, version in sorted(aliases.items()):
        bad = pins.alias_problem(alias)
        if bad:
            out.append(Skipped(name, alias, bad[0], fix))
        elif alias.lower() in seen:
            out.append(Skipped(name, alias, f"differs from '{seen[alias.lower()]}' only in case", fix))
        elif not 1 <= version <= pins.MAX_VERSION:
            out.append(Skipped(name, alias, f"version {version} is out of range", fix))
        seen.setdefault(alias.lower(), alias)
    return out


def merge(
    state: dict[str, dict[str, int]],
    existing_text: str | None,
    path: str,
    globs: tuple[str, ...] = (),
    owners: tuple[str, ...] = (),
) -> Imported:
    """The file's new text: the canonical file when `existing_text` is None, else that text plus the missing models.

    `owners` become the file-level owners of a new file, or of an existing file that has none.
    """
    models, skipped, bare = importable(select(state, globs))
    if existing_text is None:
        text = pins.dump(pins.PinsFile(path=path, models=models, owners=owners))
        return _checked(Imported(text, list(models), [], skipped, bare), path)
    current = pins.loads(existing_text, path)
    new = {name: m for name, m in models.items() if name not in current.models}
    kept = [name for name in models if name in current.models]
    text = add_models(existing_text, path, new) if new else existing_text
    if owners and not current.owners:
        text = add_owners(text, path, owners)
    return _checked(Imported(text, list(new), kept, skipped, bare), path)


def add_owners(text: str, path: str, owners: tuple[str, ...]) -> str:
    """`text` with a file-level `owners:` line before its `models:` key; nothing else changes."""
    doc = yamledit.Doc(text, path)
    found = doc.get(doc.root, "models")
    if found is None:
        raise InvalidInput(f"{path}: no 'models:' section; fix: add 'models:' at the top level")
    start = found[0].start_mark.index + doc.offset
    line = "owners: [" + ", ".join(f'"{o}"' for o in owners) + "]" + doc.newline
    return text[:start] + line + text[start:]


def add_models(text: str, path: str, models: dict[str, pins.ModelPins]) -> str:
    """`text` with `models` appended to its `models:` block, in its indentation; nothing else changes."""
    doc = yamledit.Doc(text, path)
    found = doc.get(doc.root, "models")
    if found is None:
        raise InvalidInput(f"{path}: no 'models:' section to add to; fix: add 'models:' at the top level")
    canonical = pins.dump(pins.PinsFile(path=path, models=models)).split("models:\n", 1)[1]
    key, node = found
    start, end = key.end_mark.index + doc.offset, node.end_mark.index + doc.offset
    if isinstance(node, yaml.MappingNode) and not node.value and text[start:end].replace(" ", "") == ":{}":
        # `models: {}`, as a new file starts: the block replaces the empty mapping
        new = ":" + doc.newline + canonical.rstrip("\n").replace("\n", doc.newline)
        return yamledit.apply(text, [yamledit.Splice(start, end, new)])
    block = doc.block(node, "'models'")
    key_col = block.value[0][0].start_mark.column
    step = _step(block, key_col)
    lines: list[str] = []
    for line in canonical.splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2 - 1  # dump indents by 2, models' keys at depth 0
        lines.append(" " * (depth * step + (key_col if lines else 0)) + line.lstrip(" "))
    return yamledit.apply(text, [doc.insert_entry(block, "\n".join(lines), "'models'")])


def _step(block: yaml.MappingNode, key_col: int) -> int:
    """How far the file indents one level: from its first model's nested keys (default 2)."""
    first = block.value[0][1]
    if isinstance(first, yaml.MappingNode) and first.value and not first.flow_style:
        return max(first.value[0][0].start_mark.column - key_col, 1)
    return 2


def _checked(result: Imported, path: str) -> Imported:
    try:
        pins.loads(result.text, path)
    except InvalidPins as exc:  # never write a file that does not validate
        raise InvalidInput(f"the imported file would not be valid:\n{exc}") from None
    return result
