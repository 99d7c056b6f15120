"""The whole file: its sections, the JSON Schema published from them, and the typed data they become."""

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from modelpins.pins.data import PinsFile, Promotion
from modelpins.pins.fields import NOT_GIVEN, Duration, K8sName, ModelName, Owners, Spec, refuse, seconds
from modelpins.pins.gates import GateTable, gate_table
from modelpins.pins.models import ModelSpec
from modelpins.pins.names import SCHEMA_VERSION
from modelpins.pins.serving import DeploymentSpec, EnvironmentSpec, ImagesSpec, images
from modelpins.yamlsrc import Tree


def _supported(version: int) -> int:
    if version != SCHEMA_VERSION:
        raise refuse(f"schema version {version} is not supported", f"this modelpins reads version {SCHEMA_VERSION}")
    return version


class DefaultsSpec(Spec):
    gates: Annotated[GateTable, Field(description="gates keyed by alias, applied to every model")] = {}


class PromotionSpec(Spec):
    """The order versions move through environments, and how long each must hold a version first."""

    order: Annotated[
        list[K8sName], Field(min_length=2, description="environments, first to last, e.g. `[dev, staging, production]`")
    ]
    soak: Annotated[
        dict[K8sName, Duration],
        Field(description="environment -> how long a version must hold its alias there before the next may pin it"),
    ] = {}

    def to_promotion(self, line: int, at: Tree) -> Promotion:
        return Promotion(
            tuple(self.order),
            {env: seconds(d) for env, d in self.soak.items()},
            line,
            {env: at.line(("promotion", "soak", env)) for env in self.soak},
        )


class Document(Spec):
    """model_pins.yaml: the desired MLflow Model Registry state (aliases -> versions), gates and serving."""

    version: Annotated[
        int,
        Field(ge=1, le=10**6, description="schema version, `1`", json_schema_extra={"const": 1}),
        AfterValidator(_supported),
    ]
    owners: Annotated[Owners, Field(description="reviewers of the file as a whole")] = []
    defaults: Annotated[DefaultsSpec, Field(description="what applies to every model: `gates`")] = NOT_GIVEN
    models: Annotated[dict[ModelName, ModelSpec], Field(description="registered model name -> its pins")]
    environments: Annotated[
        dict[K8sName, EnvironmentSpec], Field(description="Kubernetes namespace, Gateway and hostnames per environment")
    ] = {}
    deployments: Annotated[
        dict[K8sName, DeploymentSpec],
        Field(description="what is served where, how many replicas with what resources, and the rollout strategy"),
    ] = {}
    images: Annotated[
        ImagesSpec, Field(description="serving image registry, vLLM base image and MLflow model server image")
    ] = NOT_GIVEN
    promotion: Annotated[
        PromotionSpec, Field(description="`order` of environments and `soak` times, enforced on environment pins")
    ] = NOT_GIVEN

    def to_pins(self, path: str, at: Tree) -> PinsFile:
        return PinsFile(
            path=path,
            models={name: m.to_pins(name, ("models", name), at) for name, m in self.models.items()},
            owners=tuple(self.owners),
            defaults=gate_table(self.defaults.gates, ("defaults", "gates"), at) if self.defaults else {},
            environments={
                n: e.to_environment(n, at.key_line(("environments", n))) for n, e in self.environments.items()
            },
            deployments={n: d.to_deployment(n, ("deployments", n), at) for n, d in self.deployments.items()},
            images=images(self.images),
            promotion=self.promotion.to_promotion(at.key_line(("promotion",)), at) if self.promotion else Promotion(),
        )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the file, for editors and check-jsonschema (YAML's own rules stay with the loader)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **_tidy(Document.model_json_schema())}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _tidy(node: Any) -> Any:
    """Drop `"default": null` (a field left out is "not given"; null itself is refused), and make
    the names of a mapping match their pattern (pydantic writes `patternProperties`, which lets
    other names through)."""
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _tidy(v) for k, v in node.items() if not (k == "default" and v is None)}
    named = node.get("patternProperties", {})
    if len(named) == 1 and "additionalProperties" not in node:
        ((pattern, value),) = node.pop("patternProperties").items()
        node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
        node["additionalProperties"] = value
    return node
