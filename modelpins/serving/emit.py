"""YAML bytes of one rendered object: libyaml's C emitter where PyYAML has it, the same bytes without it.

Both emitters get the same node tree from one lean representer (plain data only: dict, list,
str, int, bool, None), written block style, keys in insertion order, no anchors or aliases,
no line folding. Which tag a plain scalar resolves to is memoised: a manifest repeats the
same few hundred strings thousands of times. The C and the pure emitter give identical
bytes for everything render produces (tests/serving/test_render.py checks both).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

HEADER = b"# Rendered by 'modelpins render' from model_pins.yaml. Do not edit: change model_pins.yaml and re-render.\n"
WIDTH = 10_000  # never fold a long string over lines
STR, INT, BOOL, NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null"))
MAP, SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


_tags: dict[str, str] = {}  # plain scalar -> the tag it resolves to (the same for both emitters)


def _node(data: Any) -> Node | None:
    """The node of plain data; None for anything else (PyYAML's SafeRepresenter handles it)."""
    kind = type(data)
    if kind is str:
        return ScalarNode(STR, data)
    if kind is dict:
        return MappingNode(
            MAP, [(_node(k) or _other(k), _node(v) or _other(v)) for k, v in data.items()], flow_style=False
        )
    if kind is list or kind is tuple:
        return SequenceNode(SEQ, [_node(v) or _other(v) for v in data], flow_style=False)
    if kind is bool:
        return ScalarNode(BOOL, "true" if data else "false")
    if kind is int:
        return ScalarNode(INT, str(data))
    if data is None:
        return ScalarNode(NULL, "null")
    return None


def _other(data: Any) -> Node:
    return yaml.SafeDumper.represent_data(_FALLBACK, data)


class _Lean:
    """Representer and resolver of the dumpers below (a mixin; the emitter is the base class's)."""

    def represent_data(self, data: Any) -> Node:
        return _node(data) or _other(data)

    def ignore_aliases(self, data: Any) -> bool:
        return True  # plain YAML: no anchors where one dict is used twice

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is not ScalarNode:  # a mapping's or sequence's tag does not depend on its value
            return MAP if kind is MappingNode else SEQ
        if not implicit[0]:
            return STR
        found = _tags.get(value)
        if found is None:
            found = _tags[value] = yaml.resolver.Resolver.resolve(self, kind, value, implicit)  # type: ignore[arg-type]
        return found

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """No path resolvers: nothing to track."""

    def ascend_resolver(self) -> None:
        """No path resolvers: nothing to track."""


class PureDumper(_Lean, yaml.SafeDumper):
    """PyYAML's emitter in Python: the fallback where libyaml is missing."""


CDumper: type | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _CDumper(_Lean, yaml.CSafeDumper):
        """libyaml's emitter in C."""

    CDumper = _CDumper

Dumper: type = CDumper or PureDumper
_FALLBACK = yaml.SafeDumper(None)  # type: ignore[arg-type]  # represents what _node does not (floats, say)


def dump(obj: dict[str, Any], dumper: type = Dumper) -> bytes:
    """HEADER + the YAML of `obj` (UTF-8)."""
    text = yaml.dump(obj, Dumper=dumper, sort_keys=False, default_flow_style=False, width=WIDTH)
    return HEADER + text.encode()
