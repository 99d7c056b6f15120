"""Regenerate devkit/crds/ from upstream CustomResourceDefinition files (no download: pass the files).

    python -m devkit.crdschemas rollout-crd.yaml analysis-template-crd.yaml \
        gateway.networking.k8s.io_httproutes.yaml [--out devkit/crds]

Each file is one CRD, as its project publishes it (lines of a Helm chart's template directives, `{{ ... }}`
alone on a line, are dropped first). Of the CRD, only the storage version's `openAPIV3Schema` is kept,
without its `description` texts, as `<group>_<version>_<Kind>.json`: what devkit.crdcheck validates
against. The sha256 of each input is printed, to compare with the table in devkit/crds/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).parent / "crds"


def crd_of(text: str) -> dict[str, Any]:
    plain = "\n".join(line for line in text.splitlines() if not line.strip().startswith("{{"))
    crd = yaml.safe_load(plain)
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        raise ValueError("not a CustomResourceDefinition")
    return crd


def storage_schema(crd: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The storage version's name and its openAPIV3Schema."""
    versions = [v for v in crd["spec"]["versions"] if v.get("served") and v.get("storage")]
    if len(versions) != 1:
        raise ValueError("no single served storage version")
    return versions[0]["name"], versions[0]["schema"]["openAPIV3Schema"]


def without_descriptions(schema: Any, in_properties: bool = False) -> Any:
    """The schema less its `description` keywords (a property that is named `description` stays)."""
    if isinstance(schema, list):
        return [without_descriptions(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        k: without_descriptions(v, k == "properties" and not in_properties)
        for k, v in schema.items()
        if in_properties or k != "description"
    }


def file_name(crd: dict[str, Any], version: str) -> str:
    return f"{crd['spec']['group']}_{version}_{crd['spec']['names']['kind']}.json"


def write(path: Path, out: Path) -> str:
    raw = path.read_bytes()
    crd = crd_of(raw.decode())
    version, schema = storage_schema(crd)
    name = file_name(crd, version)
    text = json.dumps(without_descriptions(schema), indent=1, sort_keys=True) + "\n"
    (out / name).write_text(text)
    return f"{name}  <- {path} (sha256 {hashlib.sha256(raw).hexdigest()})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.crdschemas", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("crds", nargs="+", type=Path, help="upstream CRD YAML files")
    parser.add_argument("--out", type=Path, default=OUT, help="where the JSON schemas go (default: devkit/crds)")
    args = parser.parse_args(argv)
    try:
        lines = [write(p, args.out) for p in args.crds]
    except (OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        print(f"error: {exc}; pass the upstream CRD files (see devkit/crds/README.md)", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
