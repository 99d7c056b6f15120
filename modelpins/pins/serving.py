"""The serving sections: environments, images and deployments with their strategies."""

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag
from pydantic_core import InitErrorDetails

from modelpins.pins.canary import AnalysisSpec, Step, step_times, step_weights
from modelpins.pins.data import (
    MODEL_SLOT,
    Deployment,
    Environment,
    EnvRegistry,
    Images,
    Resources,
    Route,
    ServeEntry,
    Strategy,
)
from modelpins.pins.fields import (
    NOT_GIVEN,
    Cpu,
    GatewayRef,
    Hostname,
    K8sName,
    Memory,
    Owners,
    Ref,
    RouteHostname,
    RoutePath,
    Says,
    Spec,
    Text,
    TrackingUri,
    problem,
)
from modelpins.pins.models import ref
from modelpins.pins.names import DIGEST_RE
from modelpins.yamlsrc import Loc, Tree


class RegistrySpec(Spec):
    """The environment's MLflow Model Registry: its own server, its own model names, or both."""

    tracking_uri: Annotated[
        TrackingUri,
        Field(description="the environment's MLflow server (default: the command's --tracking-uri)"),
    ] = NOT_GIVEN
    model: Annotated[
        str,
        Field(
            min_length=1,
            pattern=r"^[A-Za-z0-9._-]*\{model\}[A-Za-z0-9._-]*$",
            description="registered-model name template, e.g. `prod.{model}` (default `{model}`)",
        ),
        Says("registry model '{value}' must contain '{model}' once", "e.g. 'model: prod.{model}'"),
    ] = NOT_GIVEN

    def to_registry(self, line: int) -> EnvRegistry:
        return EnvRegistry(self.tracking_uri, self.model or MODEL_SLOT, line)


class EnvironmentSpec(Spec):
    namespace: Annotated[K8sName, Field(description="Kubernetes namespace")]
    gateway: GatewayRef = NOT_GIVEN
    hostnames: Annotated[list[Hostname], Field(description="hostnames of the HTTPRoutes (RFC 1123)")] = []
    tracking_uri: Annotated[
        TrackingUri, Field(description="MLflow, for the pods that download artefacts (ConfigMap modelpins-mlflow)")
    ] = NOT_GIVEN
    registry: Annotated[
        RegistrySpec,
        Field(description="the environment's MLflow registry (`tracking_uri`, `model` name template) for its pins"),
    ] = NOT_GIVEN
    owners: Annotated[
        Owners, Field(description="reviewers of every change to the pins in this environment, copies included")
    ] = []
    pull_secret: Annotated[
        K8sName,
        Field(description="Secret (type kubernetes.io/dockerconfigjson) in the namespace the pods pull images with"),
    ] = NOT_GIVEN
    service_account: Annotated[
        K8sName, Field(description="ServiceAccount in the namespace the pods run as (default: the namespace's default)")
    ] = NOT_GIVEN

    def to_environment(self, name: str, line: int) -> Environment:
        return Environment(
            name=name,
            namespace=self.namespace,
            gateway=self.gateway,
            hostnames=tuple(self.hostnames),
            tracking_uri=self.tracking_uri,
            line=line,
            registry=self.registry.to_registry(line) if self.registry else None,
            owners=tuple(self.owners),
            pull_secret=self.pull_secret,
            service_account=self.service_account,
        )


class ImagesSpec(Spec):
    registry: Annotated[Text, Field(description="where `modelpins build` pushes serving images")] = NOT_GIVEN
    base: Annotated[
        str,
        Field(
            min_length=1, pattern=f"^{DIGEST_RE.pattern}$", description="vLLM base image, pinned by digest, for LLMs"
        ),
        Says(
            "images.base '{value}' is not pinned by digest (@sha256: and 64 lower-case hex digits)",
            "write it as 'vllm/vllm-openai@sha256:<digest>' so builds and pods are reproducible",
        ),
    ] = NOT_GIVEN
    classic: Annotated[
        str,
        Field(
            min_length=1,
            pattern=f"^{DIGEST_RE.pattern}$",
            description="MLflow model server image (mlflow + flavors' libraries) by digest, for kind: model",
        ),
        Says(
            "images.classic '{value}' is not pinned by digest (@sha256: and 64 lower-case hex digits)",
            "write it as 'REGISTRY/mlflow-serve@sha256:<digest>' so builds and pods are reproducible",
        ),
    ] = NOT_GIVEN
    classic_base: Annotated[
        str,
        Field(
            min_length=1,
            pattern=f"^{DIGEST_RE.pattern}$",
            description="Python image by digest that `modelpins build` makes the MLflow model server image on "
            "(deploy/Dockerfile.mlflow), when `classic` is not given",
        ),
        Says(
            "images.classic_base '{value}' is not pinned by digest (@sha256: and 64 lower-case hex digits)",
            "write it as 'python:3.12-slim@sha256:<digest>' so builds and pods are reproducible",
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
    "canary": ("candidate", "weight", "steps", "analysis", "affinity", "engine"),
    "shadow": ("candidate",),
    "ab": ("candidate", "weight", "affinity"),
}

SESSION_NAME = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"),
    Says("session name '{value}' is not an HTTP token", "use letters, digits and '-', e.g. 'X-Session-Id'"),
]


class AffinitySpec(Spec):
    """Session persistence of a traffic split: the Gateway keeps a client on the track it first reached."""

    cookie: Annotated[SESSION_NAME, Field(description="the cookie the Gateway sets and reads")] = NOT_GIVEN
    header: Annotated[SESSION_NAME, Field(description="the request header the Gateway keys on")] = NOT_GIVEN

    def rules(self) -> list[InitErrorDetails]:
        if len(self.model_fields_set) != 1:
            return [problem("affinity takes one of 'cookie' or 'header'", "e.g. 'affinity: {cookie: modelpins-track}'")]
        return []

    def to_affinity(self) -> tuple[str, str]:
        return ("cookie", self.cookie) if self.cookie else ("header", self.header or "")


class StrategySpec(Spec):
    """How the candidate track takes traffic from the stable track (`serve`)."""

    type: Annotated[Literal["rolling", "blue-green", "canary", "shadow", "ab"], Field(description="the strategy")]
    candidate: Annotated[ServeList, Field(description="what the second track serves")] = NOT_GIVEN
    weight: Annotated[int, Field(ge=0, le=100, description="percent of traffic to the candidate")] = NOT_GIVEN
    steps: Annotated[
        list[Step], Field(description="canary weights, increasing; each a weight or `{weight, min_time}`")
    ] = NOT_GIVEN
    analysis: Annotated[
        AnalysisSpec, Field(description="PromQL checks `modelpins canary advance` makes at each step")
    ] = NOT_GIVEN
    active: Annotated[Literal["blue", "green"], Field(description="the blue-green track taking traffic")] = NOT_GIVEN
    affinity: Annotated[
        AffinitySpec,
        Field(description="canary or ab: keep each client on one track, by a `cookie` or a `header` it sends"),
    ] = NOT_GIVEN
    engine: Annotated[
        Literal["modelpins", "argo-rollouts"],
        Field(description="canary: who moves the weight, modelpins (default) or an Argo Rollouts `Rollout`"),
    ] = NOT_GIVEN

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
        steps = step_weights(self.steps or [])
        if steps != sorted(set(steps)):
            out.append(problem("canary steps must increase", "e.g. [5, 25, 50, 100]", "steps"))
        if self.weight and steps and self.weight not in steps:  # 0: rolled back
            out.append(
                problem(
                    f"weight {self.weight} is not one of the steps {steps}",
                    "set weight to the step the canary is at",
                    "weight",
                )
            )
        if self.analysis is not None and not steps:
            out.append(problem("a canary 'analysis' needs 'steps' to advance through", "add 'steps: [10, 50, 100]'"))
        if self.engine == "argo-rollouts" and not steps:
            out.append(problem("engine argo-rollouts needs 'steps' for the Rollout", "add 'steps: [10, 50, 100]'"))
        if kind in ("canary", "ab") and self.weight is None and not steps:
            out.append(
                problem(f"a {kind} strategy needs 'weight' (percent of traffic to the candidate)", "add 'weight: 10'")
            )
        return out

    def to_strategy(self, loc: Loc, at: Tree) -> Strategy:
        steps = tuple(step_weights(self.steps or []))
        weight = self.weight if self.weight is not None else (steps[0] if steps else 0)
        candidate = serve_list(self.candidate, (*loc, "candidate"), at) if self.candidate else ()
        times = step_times(self.steps or [])
        analysis = self.analysis.to_analysis((*loc, "analysis"), at) if self.analysis else None
        affinity = self.affinity.to_affinity() if self.affinity else None
        return Strategy(
            self.type,
            candidate,
            weight,
            steps,
            self.active or "blue",
            at.line(loc),
            min_times=times if any(times) else (),
            analysis=analysis,
            affinity=affinity,
            engine=self.engine or "modelpins",
        )


class ResourcesSpec(Spec):
    """What one pod gets, split between its containers."""

    gpu: Annotated[
        int,
        Field(ge=0, le=64, description="GPUs per pod (default: 1 per vLLM process, 0 without one); vLLM needs one"),
    ] = NOT_GIVEN
    memory: Memory = "16Gi"
    cpu: Cpu = "4"


class RouteSpec(Spec):
    """Where a deployment is reached through its environment's Gateway: its own hostnames, or a path prefix."""

    hostnames: Annotated[list[RouteHostname], Field(description="the deployment's own hostnames")] = []
    path: RoutePath = NOT_GIVEN

    def rules(self) -> list[InitErrorDetails]:
        if not self.model_fields_set:
            return [problem("route of '{name}' is empty", "give 'hostnames: [HOST]' or 'path: /PREFIX'")]
        return []

    def to_route(self, line: int) -> Route:
        return Route(hostnames=tuple(self.hostnames), path=self.path, line=line)


class DeploymentSpec(Spec):
    environment: Annotated[Text, Field(description="a name under `environments`")]
    serve: Annotated[ServeList, Field(description="the stable track: `model@alias`, or base + adapter + prompts")]
    strategy: Annotated[
        StrategySpec, Field(description="rolling (default), blue-green, canary, shadow or ab, with a candidate track")
    ] = NOT_GIVEN
    replicas: Annotated[int, Field(ge=1, le=1000, description="pods per track")] = 1
    resources: Annotated[ResourcesSpec, Field(description="`gpu`, `memory`, `cpu` of each pod")] = NOT_GIVEN
    vllm_args: Annotated[list[Text], Field(description="extra arguments of the vLLM server")] = []
    tensor_parallel_size: Annotated[
        int,
        Field(ge=1, le=64, description="GPUs each vLLM process shards the model over (default: its share of `gpu`)"),
    ] = NOT_GIVEN
    artifacts: Annotated[
        Literal["image", "init"], Field(description="weights baked into the image, or fetched by an init container")
    ] = "init"
    port: Annotated[int, Field(ge=1, le=65535, description="the serving container's port")] = 8000
    route: Annotated[RouteSpec, Field(description="`hostnames` and/or a `path` prefix under the Gateway")] = NOT_GIVEN

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
            route=self.route.to_route(at.line((*loc, "route"))) if self.route else None,
            line=at.key_line(loc),
            tensor_parallel_size=self.tensor_parallel_size,
            vllm_args_line=at.key_line((*loc, "vllm_args")) if self.vllm_args else 0,
            resources_line=at.key_line((*loc, "resources")) if res else 0,
        )


def images(spec: ImagesSpec | None) -> Images:
    if not spec:
        return Images()
    return Images(registry=spec.registry, base=spec.base, classic=spec.classic, classic_base=spec.classic_base)
