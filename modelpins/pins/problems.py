"""pydantic's errors as the project's problems: each at its `file:line`, in the project's words, with the fix.

An error's location is its path of keys; the tree from yamlsrc gives the node (and so the
line and what YAML read there) at each path, and the schema gives the rest: the allowed
fields, the bounds, the choices and any `Says` of the value's type.
"""

from __future__ import annotations

import difflib
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from modelpins.errors import Problem
from modelpins.pins.document import Document
from modelpins.pins.fields import ERROR, Says, Spec
from modelpins.pins.gates import GateSpec
from modelpins.pins.names import GATE_KINDS
from modelpins.yamlsrc import FLOAT, INT, STR, Loc, Tree, Unreadable, kind_of, line_of

# How a value is named in messages, by its path ('*' stands for any key or index).
LABELS: dict[Loc, str] = {
    (): "the file",
    ("defaults", "gates", "*"): "defaults.gates.{2}",
    ("defaults", "gates", "*", "*"): "gate in defaults.gates.{2}",
    ("models", "*"): "model '{1}'",
    ("models", "*", "[key]"): "model name",
    ("models", "*", "aliases"): "aliases of '{1}'",
    ("models", "*", "aliases", "*"): "version for {1}@{3}",
    ("models", "*", "kind"): "kind of '{1}'",
    ("models", "*", "base"): "base of '{1}'",
    ("models", "*", "owners"): "owners of '{1}'",
    ("models", "*", "gates"): "gates of '{1}'",
    ("models", "*", "gates", "*"): "gates of '{1}'.{3}",
    ("models", "*", "gates", "*", "*"): "gate in gates of '{1}'.{3}",
    ("models", "*", "waivers"): "waivers of '{1}'",
    ("models", "*", "waivers", "*"): "waiver for {1}@{3}",
    ("models", "*", "waivers", "*", "*"): "{4} of the waiver for {1}@{3}",
    ("environments", "*"): "environment '{1}'",
    ("environments", "*", "[key]"): "environment name",
    ("images", "*"): "images.{1}",
    ("deployments", "*"): "deployment '{1}'",
    ("deployments", "*", "[key]"): "deployment name",
    ("deployments", "*", "serve"): "serve of '{1}'",
    ("deployments", "*", "serve", "*"): "entry of serve of '{1}'",
    ("deployments", "*", "strategy"): "strategy of '{1}'",
    ("deployments", "*", "strategy", "type"): "strategy type",
    ("deployments", "*", "strategy", "weight"): "weight (percent)",
    ("deployments", "*", "strategy", "steps", "*"): "step weight",
    ("deployments", "*", "strategy", "candidate", "*"): "entry of candidate",
    ("deployments", "*", "resources", "*"): "resources.{3}",
}
TYPES = {  # error type -> (what the value must be, fix)
    "int_type": ("a whole number", "write it as plain digits, e.g. 3"),
    "float_type": ("a number", "write it without quotes, e.g. 0.9"),
    "string_type": ("non-empty text", "quote the value"),
    "string_too_short": ("non-empty text", "quote the value"),
    "bool_type": ("true or false", "write true or false"),
    "list_type": ("a list", "write it as [a, b] or '- a' lines"),
    "dict_type": ("a mapping (name: value)", "write 'name: value' lines indented under it"),
    "model_type": ("a mapping (key: value)", "write 'key: value' lines indented under it"),
    "model_attributes_type": ("a mapping (key: value)", "write 'key: value' lines indented under it"),
}
RANGE = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")


def problems(exc: ValidationError | None, at: Tree, path: str) -> list[Problem]:
    """Keys YAML read as other than text, then each of pydantic's errors."""
    out = [_key_problem(loc, key, at, path) for loc, key in at.bad_keys]
    for err in exc.errors(include_url=False) if exc else []:
        try:
            message, fix, line = _explain(err, at)
        except (KeyError, IndexError, AttributeError, TypeError, ValueError):  # never hide a problem behind a crash
            loc = _data_path(err["loc"], at.data)[0]
            line = line_of(at.nodes[loc]) if loc in at.nodes else 1
            message, fix = f"{'.'.join(map(str, loc)) or 'the file'}: {err['msg']}", "see `modelpins schema`"
        out.append(Problem(path, line, message, fix))
    return out


def _key_problem(loc: Loc, key: yaml.Node, at: Tree, path: str) -> Problem:
    shown = key.value if isinstance(key, yaml.ScalarNode) else kind_of(key)
    named = "key" if isinstance(_schema_at(loc, at.data)[1], type) else "name"
    message = f"{named} '{shown}' in {describe(loc, at.data)} is read by YAML as {kind_of(key)}, not text"
    return Problem(path, line_of(key), message, f"quote it: '{shown}': ...")


def _explain(err: ErrorDetails, at: Tree) -> tuple[str, str, int]:
    kind, ctx = err["type"], err.get("ctx") or {}
    loc, is_key = _data_path(err["loc"], at.data)
    if kind == "missing":
        field = str(err["loc"][-1])
        owner = _schema_at(loc, at.data)[1]
        verb, fix = Spec.missing, f"add '{field}: ...'"
        if isinstance(owner, type) and issubclass(owner, Spec):
            # a field's Says fix is for a malformed value; only its example helps with a missing one
            examples = [m.fix for m in owner.model_fields[field].metadata if isinstance(m, Says) and m.fix]
            verb, fix = owner.missing, fix + ("; " + examples[0] if examples and examples[0].startswith("e.g.") else "")
        return verb.format(what=describe(loc, at.data), field=field), fix, at.line(loc)
    node = at.keys[loc] if is_key or kind == "extra_forbidden" else at.nodes[loc]
    value: Any = loc[-1] if is_key else _value(loc, at.data)
    what = describe((*loc, "[key]") if is_key else loc, at.data)
    if kind == "extra_forbidden":
        allowed = list(_schema_at(loc[:-1], at.data)[1].model_fields)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown field '{loc[-1]}' in {describe(loc[:-1], at.data)}", hint, line_of(node)
    meta = _schema_at(loc[:-1], at.data, key=True)[2] if is_key else _schema_at(loc, at.data)[2]
    if kind in ("union_tag_invalid", "union_tag_not_found"):  # a gate's kind, the one tagged union
        if kind == "union_tag_not_found":
            return f"{what} is missing 'kind'", f"add 'kind: ' one of {', '.join(GATE_KINDS)}", line_of(node)
        node, what, value = _child(node, "kind"), "gate kind", value["kind"]
        kind, ctx = "literal_error", {"expected": ctx["expected_tags"]}
    message, fix = _words(kind, {"msg": err["msg"], **ctx}, what, value, node, meta)
    parent = describe(loc[:-1], at.data) if loc else "the file"
    shown_value = str(value)[:80] if not isinstance(value, (dict, list)) else ""
    for name, text in (("{value}", shown_value), ("{what}", what), ("{parent}", parent), ("{name}", _name(loc))):
        message = message.replace(name, text)
    return message, fix, line_of(node)


def _words(kind: str, ctx: dict[str, Any], what: str, value: Any, node: yaml.Node, meta: list[Any]) -> tuple[str, str]:
    """(message, fix) for one error of pydantic's `kind` about `value` (read from `node`), named `what`."""
    says = next((m for m in meta if isinstance(m, Says)), Says())
    if kind == ERROR:
        message, fix = str(ctx["message"]), str(ctx["fix"])
    elif kind == "literal_error" and _is_text(node):
        allowed = re.findall(r"'([^']*)'", str(ctx["expected"]))
        choices = ", ".join(allowed)
        close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.75)
        message = f"{what} '{value}' is not one of: {choices}"
        fix = f"did you mean '{close[0]}'?" if close else f"use one of: {choices}"
    elif kind == "literal_error":
        message, fix = f"{what} must be non-empty text, not {kind_of(node)}", "quote the value"
    elif kind in ("string_pattern_mismatch", "string_too_long") and says.message:  # names, references, hostnames
        message, fix = says.message, says.fix
    elif kind == "too_short":
        message, fix = _too_short(what, value, ctx, says)
    elif kind in RANGE:
        message, fix = _out_of_range(what, value, node, meta)
    elif kind == "finite_number":
        message, fix = f"{what} must be a finite number", "write a plain number"
    elif kind in ("int_type", "float_type") and isinstance(value, Unreadable) and node.tag in (INT, FLOAT):
        fix = "write it as plain digits, e.g. 3" if kind == "int_type" else "write it like 0.9 or 3"
        message = f"{what} '{node.value[:40]}' is not a plain decimal number"
    elif kind in TYPES:
        message, fix = _wrong_type(kind, what, node)
    else:
        message, fix = f"{what}: {ctx['msg']}", "see `modelpins schema` for what this field takes"
    return message, fix


def _too_short(what: str, value: Any, ctx: dict[str, Any], says: Says) -> tuple[str, str]:
    if value:  # some entries, but fewer than needed
        least = ctx.get("min_length", 1)
        return f"{what} has {len(value)} entries, fewer than {least}", f"list at least {least} entries"
    return says.message or f"{what} is empty", says.fix or "add at least one entry"


def _out_of_range(what: str, value: Any, node: yaml.Node, meta: list[Any]) -> tuple[str, str]:
    lo, hi = _bounds(meta)
    text = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
    shown = f"{value:g}" if isinstance(value, float) else text if len(text) <= 20 else text[:20] + "..."
    span = (
        f"from {lo} to {hi}"
        if lo is not None and hi is not None
        else f"of at least {lo}"
        if hi is None
        else f"of at most {hi}"
    )
    return f"{what} {shown} is out of range", f"use a number {span}"


def _wrong_type(kind: str, what: str, node: yaml.Node) -> tuple[str, str]:
    must, fix = TYPES[kind]
    quoted = isinstance(node, yaml.ScalarNode) and node.style in ("'", '"')
    if kind == "int_type" and quoted:
        fix = "write it without quotes, e.g. 3"
    elif kind in ("int_type", "float_type") and not quoted and _is_text(node):  # unquoted, yet text: 1e12, 1_000
        fix = "write it as plain digits with at most one '.', e.g. 30 or 0.9 (YAML reads 1e12 as text)"
    shown = f"'{node.value[:40]}'" if kind == "int_type" and _is_text(node) else kind_of(node)
    return f"{what} must be {must}, not {shown}", fix


def _is_text(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == STR


def _child(node: yaml.Node, key: str) -> yaml.Node:
    return next(v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key)


def _name(loc: Loc) -> str:
    return str(loc[1]) if len(loc) > 1 else ""


def _data_path(loc: tuple[int | str, ...], data: Any) -> tuple[Loc, bool]:
    """The error's path in the data, without pydantic's union tags; and whether it points at a key."""
    out: list[object] = []
    for seg in loc:
        if seg == "[key]":
            return tuple(out), True
        in_list = isinstance(data, list) and isinstance(seg, int) and 0 <= seg < len(data)
        if not (in_list or (isinstance(data, dict) and seg in data)):
            continue  # a union tag, or the name of a missing field
        data = data[seg]
        out.append(seg)
    return tuple(out), False


def _value(loc: Loc, data: Any) -> Any:
    for seg in loc:
        if isinstance(data, dict):
            data = data.get(seg)
        elif isinstance(data, list) and isinstance(seg, int) and 0 <= seg < len(data):
            data = data[seg]
        else:
            return None
    return data


def describe(loc: Loc, data: object) -> str:
    """The value at `loc` as messages name it: "version for credit-risk@champion", "min of threshold gate"."""
    if loc and loc[-1] != "[key]" and _gate_kind(loc[:-1], data):
        return f"{loc[-1]} of {_gate_kind(loc[:-1], data)} gate"
    if _gate_kind(loc, data):
        return f"{_gate_kind(loc, data)} gate"
    for pattern, label in LABELS.items():
        if len(pattern) == len(loc) and all(p in ("*", seg) for p, seg in zip(pattern, loc, strict=True)):
            return label.format(*loc)
    if not loc:
        return "the file"
    if isinstance(loc[-1], int):
        return f"each entry of {describe(loc[:-1], data)}"
    return str(loc[-1])


def _gate_kind(loc: Loc, data: object) -> str | None:
    """The kind of the gate at `loc`, when a valid gate kind is there."""
    here, value = _schema_at(loc, data)[1], _value(loc, data)
    if isinstance(here, type) and issubclass(here, GateSpec) and isinstance(value, dict):
        kind = value.get("kind")
        return kind if kind in GATE_KINDS else None
    return None


def _schema_at(loc: Loc, data: Any, key: bool = False) -> tuple[Any, Any, list[Any]]:
    """(the model owning the last field, the type at `loc` (of its keys, with `key`), that type's metadata)."""
    tp: object = Document
    meta: list[object] = []
    owner: object = None
    for seg in loc:
        if seg == "[key]":
            break
        tp, more = _unwrap(tp, data)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(str(seg))
            if info is None:
                return tp, None, []
            owner, tp, meta = tp, info.annotation, list(info.metadata)
        elif get_origin(tp) is dict:
            owner, tp, meta = None, get_args(tp)[1], []
        elif get_origin(tp) is list:
            owner, tp, meta = None, get_args(tp)[0], []
        data = _value((seg,), data)
    if key:  # the type of the keys of the mapping at `loc`
        tp, _ = _unwrap(tp, data)
        tp, meta = get_args(tp)[0] if get_origin(tp) is dict else tp, []
    tp, more = _unwrap(tp, data)
    return owner, tp, meta + more


def _unwrap(tp: object, value: object) -> tuple[object, list[object]]:
    meta: list[object] = []
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *extra = get_args(tp)
            for m in extra:
                meta += [m, *getattr(m, "metadata", [])]
        elif origin in (Union, types.UnionType):
            members = [m for m in get_args(tp) if m is not type(None)]
            tp = _pick(members, value)
        else:
            return tp, meta


def _pick(members: list[object], value: object) -> object:
    def base(m: object) -> object:
        return get_args(m)[0] if get_origin(m) is Annotated else m

    for m in members:
        b = base(m)
        if isinstance(value, dict) and isinstance(b, type) and issubclass(b, BaseModel):
            kind = b.model_fields.get("kind")
            if kind is None or value.get("kind") in get_args(kind.annotation):
                return m
        if isinstance(value, list) and get_origin(b) is list:
            return m
    scalars = [m for m in members if not (isinstance(base(m), type) and issubclass(base(m), BaseModel))]  # type: ignore[arg-type]
    return (scalars or members)[0]


def _bounds(meta: list[object]) -> tuple[object, object]:
    lo = next((m.ge for m in meta if isinstance(m, Ge)), None)
    hi = next((m.le for m in meta if isinstance(m, Le)), None)
    return lo, hi
