"""model_pins.yaml, version 1: the desired registry state, parsed strictly into typed data.

The typed data (`PinsFile` and the rest) is in `data`, the patterns and limits of names in
`names`; the schema is declared once, by section, as pydantic models (`models`, `gates`,
`serving`, `document`), from which the JSON Schema (`modelpins schema`) is generated.
pydantic is imported only when a file is read.
"""

from __future__ import annotations

from pathlib import Path

from modelpins.pins.data import (
    AliasPin,
    Analysis,
    CanaryQuery,
    Deployment,
    Environment,
    EnvPin,
    EnvRef,
    EnvRegistry,
    Gate,
    Images,
    ModelPins,
    ModelRef,
    PinsFile,
    Promotion,
    Resources,
    Route,
    ServeEntry,
    Strategy,
    Waiver,
)
from modelpins.pins.names import (
    ALIAS_RE,
    ANY_ALIAS,
    ARTIFACT_MODES,
    GATE_KINDS,
    GATE_NAME_RE,
    K8S_NAME_RE,
    MAX_VERSION,
    MODEL_KINDS,
    MODEL_RE,
    OWNER_RE,
    RESERVED_ALIAS_RE,
    SCHEMA_VERSION,
    STRATEGIES,
    alias_problem,
)

__all__ = [
    "ALIAS_RE",
    "ANY_ALIAS",
    "ARTIFACT_MODES",
    "GATE_KINDS",
    "GATE_NAME_RE",
    "K8S_NAME_RE",
    "MAX_VERSION",
    "MODEL_KINDS",
    "MODEL_RE",
    "OWNER_RE",
    "RESERVED_ALIAS_RE",
    "SCHEMA_VERSION",
    "STRATEGIES",
    "AliasPin",
    "Analysis",
    "CanaryQuery",
    "Deployment",
    "Environment",
    "EnvPin",
    "EnvRef",
    "EnvRegistry",
    "Gate",
    "Images",
    "ModelPins",
    "ModelRef",
    "PinsFile",
    "Promotion",
    "Resources",
    "Route",
    "ServeEntry",
    "Strategy",
    "Waiver",
    "alias_problem",
    "dump",
    "load",
    "load_at",
    "loads",
]


def load(path: str | Path) -> PinsFile:
    """Read and check a pins file; raise InvalidPins listing every problem with its line."""
    from modelpins.pins import read

    return read.load(path)


def loads(text: str | bytes, path: str = "model_pins.yaml") -> PinsFile:
    from modelpins.pins import read

    return read.loads(text, path)


def load_at(path: str | Path, ref: str) -> PinsFile | None:
    """The pins file as it stood at git `ref` (None when it did not exist there).

    Problems are reported against `<path>@<ref>` so they are not mistaken for the working copy's.
    """
    from modelpins import gitrepo

    repo, rel = gitrepo.locate(Path(path))
    data = gitrepo.show(repo, gitrepo.resolve(repo, ref), rel)
    return None if data is None else loads(data, f"{path}@{ref}")


def dump(pins: PinsFile) -> str:
    """The canonical YAML text of `pins`: every section, defaults left out, such that `loads(dump(p)) == p`."""
    from modelpins.pins import write

    return write.dump(pins)
