"""The CycloneDX SBOM of a serving bundle: what one image serves, traced to its versions, digests and commit.

One BOM per image `build` makes for a deployment track (`artifacts: image`): the image
as the BOM's subject; one `machine-learning-model` component per served version (base,
LoRA adapter, prompt templates) with its artefact digest, run id and, when signed, the
signature bundle's digest; the base image with its digest; the pins commit as a property.
The BOM goes into the image at `PATH` (its digest in the label `io.modelpins.sbom`) and
next to the image lock. It is a pure function of its inputs (serial number derived from
the content, no clock), so an unchanged bundle gives the same file.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelpins import tags

PATH = "/models/.modelpins/sbom.cdx.json"  # inside the image; a dot directory no model name can take
LABEL = tags.IMAGE_LABEL + "sbom"


@dataclass(frozen=True)
class Served:
    """One served version as the BOM lists it."""

    model: str
    alias: str
    version: int
    kind: str  # base | adapter | prompts | model
    artifact_digest: str
    run_id: str = ""
    signature: str = ""  # sha256 of its signature bundle, "" when unsigned


def bom(image: str, base: str, commit: str | None, served: Sequence[Served]) -> str:
    """The CycloneDX 1.6 JSON document for the image `image` (repository:tag) built from `base`."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6

    def props(values: Mapping[str, str]) -> list[Property]:
        return [Property(name=f"modelpins:{k}", value=v) for k, v in values.items() if v]

    base_name, _, base_digest = base.partition("@")
    repo, _, tag = image.rpartition(":")
    subject = Component(name=repo, version=tag, type=ComponentType.CONTAINER, bom_ref=image)
    components = [
        Component(
            name=base_name,
            version=base_digest or None,
            type=ComponentType.CONTAINER,
            bom_ref=f"base:{base}",
            hashes=_hashes(base_digest, HashType, HashAlgorithm),
            properties=props({"role": "base image"}),
        )
    ]
    for s in served:
        components.append(
            Component(
                name=s.model,
                version=str(s.version),
                type=ComponentType.MACHINE_LEARNING_MODEL,
                bom_ref=f"models:/{s.model}/{s.version}",
                hashes=_hashes(s.artifact_digest, HashType, HashAlgorithm),
                properties=props(
                    {
                        "kind": s.kind,
                        "alias": s.alias,
                        "artifact_digest": s.artifact_digest,
                        "run_id": s.run_id,
                        "signature_digest": s.signature,
                        "path": f"/models/{s.model}/{s.version}",
                    }
                ),
            )
        )
    content = json.dumps([image, base, commit, [s.__dict__ for s in served]], sort_keys=True)
    doc = Bom(
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, "modelpins:" + hashlib.sha256(content.encode()).hexdigest()),
        metadata=BomMetaData(component=subject, properties=props({"commit": commit or ""})),
        components=components,
    )
    doc.register_dependency(subject, components)  # the image depends on its base and every served version
    data = json.loads(JsonV1Dot6(doc).output_as_string())
    data["metadata"].pop("timestamp", None)  # the same bundle gives the same document
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _hashes(digest: str, hash_type: Any, algorithm: Any) -> list[Any]:
    algo, _, hexdigest = digest.partition(":")
    return [hash_type(alg=algorithm.SHA_256, content=hexdigest)] if algo == "sha256" and hexdigest else []


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
