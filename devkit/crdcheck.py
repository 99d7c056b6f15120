"""Check rendered custom resources against their upstream CRD schemas, offline and strictly.

    python -m devkit.crdcheck DIR...

Every Argo Rollouts `Rollout` and `AnalysisTemplate` and every Gateway API `HTTPRoute` in the YAML files
under the directories is validated with `jsonschema` against the openAPIV3Schema its CRD serves
(devkit/crds/, see the README there). The structural schema is read as the API server reads it:

- a field that the schema does not name is an error, as `kubectl apply --validate=strict` reports it
  (the API server would drop it silently), unless `x-kubernetes-preserve-unknown-fields` keeps it;
- `x-kubernetes-int-or-string: true` accepts an integer or a string;
- `metadata` is checked as an ObjectMeta (known fields; labels and annotations map strings to strings).

Not checked: the CEL rules (`x-kubernetes-validations`) and list-map key uniqueness. Exit 0 when every
object passes, 1 on any error (each named by file, object and field path), 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

SCHEMAS = Path(__file__).parent / "crds"
KINDS = {"argoproj.io": ("Rollout", "AnalysisTemplate"), "gateway.networking.k8s.io": ("HTTPRoute",)}
STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT_META = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": STRINGS,
        "annotations": STRINGS,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        **{k: {} for k in ("uid", "resourceVersion", "generation", "creationTimestamp", "selfLink")},
        **{k: {} for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields")},
    },
    "additionalProperties": False,
}


class Unreadable(Exception):
    """A file that is not YAML, or a directory that is not there."""


def structural(schema: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes structural schema as a JSON Schema that rejects unknown fields."""
    out = {k: _node(v) if k in ("items", "additionalProperties", "not") else v for k, v in schema.items()}
    if "properties" in schema:
        out["properties"] = {name: _node(s) for name, s in schema["properties"].items()}
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            out[key] = [_node(s) for s in schema[key]]
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-embedded-resource")
    if schema.get("type") == "object" and "additionalProperties" not in schema and not preserve:
        out["additionalProperties"] = False
    return out


def _node(schema: Any) -> Any:
    return structural(schema) if isinstance(schema, dict) else schema


@functools.cache
def validators() -> dict[tuple[str, str], Draft7Validator]:
    """(apiVersion, kind) -> validator, one per JSON file in devkit/crds (`<group>_<version>_<Kind>.json`)."""
    out = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        group, version, kind = path.stem.split("_")
        schema = structural(json.loads(path.read_text()))
        schema["properties"]["metadata"] = copy.deepcopy(OBJECT_META)
        out[(f"{group}/{version}", kind)] = Draft7Validator(schema)
    return out


def checked(obj: Any) -> bool:
    """Whether the object is one of the custom resources this module checks."""
    if not isinstance(obj, dict) or not isinstance(obj.get("apiVersion"), str):
        return False
    return obj.get("kind") in KINDS.get(obj["apiVersion"].split("/")[0], ())


def errors(obj: dict[str, Any]) -> list[str]:
    """What is wrong with one object against its CRD's schema, each as `field.path: message`."""
    validator = validators().get((obj["apiVersion"], obj["kind"]))
    if validator is None:
        served = sorted(v for v, k in validators() if k == obj["kind"])
        return [f"apiVersion: no schema for {obj['kind']} {obj['apiVersion']} (devkit/crds has {', '.join(served)})"]
    found = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{field_path(e.absolute_path) or '(object)'}: {e.message}" for e in found]


def field_path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def documents(dirs: Iterable[Path]) -> Iterator[tuple[Path, Any]]:
    """Each YAML document of each `*.yaml` file under the directories, with its file."""
    for d in dirs:
        if not d.is_dir():
            raise Unreadable(f"{d}: no such directory")
        for path in sorted(d.rglob("*.yaml")):
            try:
                for doc in yaml.safe_load_all(path.read_text()):
                    yield path, doc
            except yaml.YAMLError as exc:
                raise Unreadable(f"{path}: not YAML: {exc}") from exc


def check(dirs: Iterable[Path]) -> tuple[Counter[str], list[str]]:
    """Objects checked per kind, and every problem as `file: Kind/name: field.path: message`."""
    counts: Counter[str] = Counter()
    problems: list[str] = []
    for path, obj in documents(dirs):
        if not checked(obj):
            continue
        counts[obj["kind"]] += 1
        name = (obj.get("metadata") or {}).get("name", "?")
        problems += [f"{path}: {obj['kind']}/{name}: {e}" for e in errors(obj)]
    return counts, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.crdcheck", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="directories of rendered manifests")
    args = parser.parse_args(argv)
    try:
        counts, problems = check(args.dirs)
    except Unreadable as exc:
        print(f"ERROR - {exc}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"ERROR - {p}")
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no custom resources"
    where = " ".join(str(d) for d in args.dirs)
    if problems:
        print(f"ERROR - {len(problems)} problems in {kinds} in {where} (upstream CRD schemas, devkit/crds)")
        return 1
    print(f"{kinds} valid against the upstream CRD schemas in {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
