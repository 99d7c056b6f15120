"""The serving sections: environments, images and deployments with their strategies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag
from pydantic_core import InitErrorDetails

from modelpins.pins.data import Deployment, Environment, Images, Resources, ServeEntry, Strategy
from modelpins.pins.fields import NOT_GIVEN, K8sName, Ref, Says, Spec, Text, problem
from modelpins.pins.models import ref
from modelpins.yamlsrc import Loc, Tree


class EnvironmentSpec(Spec):
    namespace: Annotated[K8sName, Field(description="Kubernetes namespace")]
    gateway: Annotated[Text, Field(description="Gateway API gateway (`namespace/name`) the HTTPRoutes attach to")] = (
        NOT_GIVEN
    )
    hostnames: Annotated[list[Text], Field(description="hostnames of the HTTPRoutes")] = []

    def to_environment(self, name: str, line: int) -> Environment:
        return Environment(name, self.namespace, self.gateway, tuple(self.hostnames), line)


class ImagesSpec(Spec):
    registry: Annotated[Text, Field(description="where `modelpins build` pushes serving images")] = NOT_GIVEN
    base: Annotated[
        str,
        Field(min_length=1, pattern="@sha256:", description="vLLM base image, pinned by digest"),
        Says(
            "images.base '{value}' is not pinned by digest",
            "write it as 'vllm/vllm-openai@sha256:<digest>' so builds are reproducible",
        ),
    ] = NOT_GIVEN


class ServeSpec(Spec):
    """An LLM base with an adapter and prompts (or a model), served under `name`."""

    model: Ref
    adapter: Ref = NOT_GIVEN
    prompts: Ref = NOT_GIVEN
    name: Text = NOT_GIVEN


ServeItem = Annotated[
    Annotated[Ref, Tag("model@alias")] | Annotated[ServeSpec, Tag("mapping")],
    Discriminator(lambda v: "mapping" if isinstance(v, dict) else "model@alias"),
]
ServeList = Annotated[list[ServeItem], Field(min_length=1), Says(fix="list at least one 'model@alias'")]


def serve_list(items: list[str | ServeSpec], loc: Loc, at: Tree) -> tuple[ServeEntry, ...]:
    out = []
    for i, item in enumerate(items):
        here = (*loc, i)
        if isinstance(item, str):
            out.append(ServeEntry(ref(item, here, at), line=at.line(here)))
            continue
        refs = {
            key: ref(v, (*here, key), at) if v else None
            for key, v in (("adapter", item.adapter), ("prompts", item.prompts))
        }
        out.append(ServeEntry(ref(item.model, (*here, "model"), at), served_name=item.name, line=at.line(here), **refs))
    return tuple(out)


STRATEGY_FIELDS = {
    "rolling": (),
    "blue-green": ("candidate", "active"),
    "canary": ("candidate", "weight", "steps"),
    "shadow": ("candidate",),
    "ab": ("candidate", "weight"),
}


class StrategySpec(Spec):
    """How the candidate track takes traffic from the stable track (`serve`)."""

    type: Annotated[Literal["rolling", "blue-green", "canary", "shadow", "ab"], Field(description="the strategy")]
    candidate: Annotated[ServeList, Field(description="what the second track serves")] = NOT_GIVEN
    weight: Annotated[int, Field(ge=0, le=100, description="percent of traffic to the candidate")] = NOT_GIVEN
    steps: Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(description="canary weights, increasing")] = (
        NOT_GIVEN
    )
    active: Annotated[Literal["blue", "green"], Field(description="the blue-green track taking traffic")] = NOT_GIVEN

    def rules(self) -> list[InitErrorDetails]:
        """The fields the strategy's type takes, and the weights of a canary."""
        kind, allowed, out = self.type, STRATEGY_FIELDS[self.type], []
        for key in sorted(self.model_fields_set - {"type", *allowed}, key=list(type(self).model_fields).index):
            takes = ", ".join(allowed) or "no other fields"
            out.append(
                problem(f"'{key}' does not apply to a {kind} strategy", f"a {kind} strategy takes: {takes}", key)
            )
        if kind != "rolling" and self.candidate is None:
            out.append(
                problem(
                    f"a {kind} strategy needs 'candidate' (what the second track serves)",
                    "add 'candidate: [model@challenger]'",
                )
            )
        steps = self.steps or []
        if steps != sorted(set(steps)):
            out.append(problem("canary steps must increase", "e.g. [5, 25, 50, 100]", "steps"))
        if self.weight is not None and steps and self.weight not in steps:
            out.append(
                problem(
                    f"weight {self.weight} is not one of the steps {steps}",
                    "set weight to the step the canary is at",
                    "weight",
                )
            )
        if kind in ("canary", "ab") and self.weight is None and not steps:
            out.append(
                problem(f"a {kind} strategy needs 'weight' (percent of traffic to the candidate)", "add 'weight: 10'")
            )
        return out

    def to_strategy(self, loc: Loc, at: Tree) -> Strategy:
        steps = tuple(self.steps or ())
        weight = self.weight if self.weight is not None else (steps[0] if steps else 0)
        candidate = serve_list(self.candidate, (*loc, "candidate"), at) if self.candidate else ()
        return Strategy(self.type, candidate, weight, steps, self.active or "blue", at.line(loc))


class ResourcesSpec(Spec):
    gpu: Annotated[int, Field(ge=0, le=64)] = 0
    memory: Annotated[Text, Field(description="Kubernetes quantity")] = "16Gi"
    cpu: Annotated[Text, Field(description="Kubernetes quantity")] = "4"


class DeploymentSpec(Spec):
    environment: Annotated[Text, Field(description="a name under `environments`")]
    serve: Annotated[ServeList, Field(description="the stable track: `model@alias`, or base + adapter + prompts")]
    strategy: Annotated[
        StrategySpec, Field(description="rolling (default), blue-green, canary, shadow or ab, with a candidate track")
    ] = NOT_GIVEN
    replicas: Annotated[int, Field(ge=1, le=1000, description="pods per track")] = 1
    resources: Annotated[ResourcesSpec, Field(description="`gpu`, `memory`, `cpu` of each pod")] = NOT_GIVEN
    vllm_args: Annotated[list[Text], Field(description="extra arguments of the vLLM server")] = []
    artifacts: Annotated[
        Literal["image", "init"], Field(description="weights baked into the image, or fetched by an init container")
    ] = "init"
    port: Annotated[int, Field(ge=1, le=65535, description="the serving container's port")] = 8000

    def to_deployment(self, name: str, loc: Loc, at: Tree) -> Deployment:
        res = self.resources
        return Deployment(
            name=name,
            environment=self.environment,
            serve=serve_list(self.serve, (*loc, "serve"), at),
            strategy=self.strategy.to_strategy((*loc, "strategy"), at) if self.strategy else Strategy(),
            replicas=self.replicas,
            resources=Resources(res.gpu, res.memory, res.cpu) if res else Resources(),
            vllm_args=tuple(self.vllm_args),
            artifacts=self.artifacts,
            port=self.port,
            line=at.key_line(loc),
        )


def images(spec: ImagesSpec | None) -> Images:
    return Images(spec.registry, spec.base) if spec else Images()
