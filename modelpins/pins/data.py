"""The typed data a pins file is read into: what every other module consumes.

Every value keeps the line it came from (`line`, excluded from equality) so that
later checks against the registry can point at `model_pins.yaml:LINE` too. The schema
of the file itself (fields, types, messages) is declared in the section modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelpins.pins.names import ANY_ALIAS, SCHEMA_VERSION


@dataclass(frozen=True)
class AliasPin:
    alias: str
    version: int
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Gate:
    """One check a version must pass before an alias may point at it.

    threshold/safety: a metric logged in the version's run within [min, max].
    regression: candidate metric vs the version `against` (an alias, default the
      alias being moved) points to now, within `tolerance`.
    latency: p`percentile` over `requests` calls to `endpoint` (POSTing `body` when
      given; `timeout` seconds for all of them), or a logged `metric`, at most `max_ms`
      (kept in `max`).
    command: `run` (argv, relative paths against the pins file's directory) reads
      JSON on stdin and prints JSON; see modelpins.gates.command. A safety gate
      with `run` compares the script's `value` with min/max. A `run` script is given
      the credentials of the registry it evaluates only with `registry_credentials`.
    signature: the version's signature bundle verifies against its files and was made by
      `public_key`, a certificate chained to `certificate_chain` (paths against the pins
      file's directory), or the Sigstore `identity` issued by `issuer`.
    """

    kind: str
    name: str
    metric: str | None = None
    min: float | None = None
    max: float | None = None
    tolerance: float = 0.0
    against: str | None = None
    higher_is_better: bool = True
    endpoint: str | None = None
    body: str | None = None
    requests: int = 50
    percentile: float = 99.0
    run: tuple[str, ...] = ()
    timeout: float = 60.0
    public_key: str | None = None
    certificate_chain: tuple[str, ...] = ()
    identity: str | None = None
    issuer: str | None = None
    registry_credentials: bool = False  # a `run` script gets the evaluated registry's credentials
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ModelRef:
    """`model@alias`: a pinned alias of a model in this file."""

    model: str
    alias: str
    line: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return f"{self.model}@{self.alias}"


@dataclass(frozen=True)
class Waiver:
    """Gates waived for one move: `alias` back to `version`, a version that served it before (a rollback)."""

    alias: str
    version: int
    reason: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class EnvRef:
    """`environment@alias`: an alias of the same model in another environment's registry."""

    environment: str
    alias: str
    line: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return f"{self.environment}@{self.alias}"


@dataclass(frozen=True)
class EnvPin:
    """One alias of a model in an environment's registry: a version, or a copy `promote_from` another environment.

    `override`: the recorded reason a pin may skip the promotion order's soak time (an emergency).
    """

    environment: str
    alias: str
    version: int | None = None
    promote_from: EnvRef | None = None
    override: str = ""
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ModelPins:
    name: str
    aliases: dict[str, AliasPin]
    kind: str = "model"
    base: ModelRef | None = None
    owners: tuple[str, ...] = ()
    description: str = ""
    limitations: str = ""
    gates: dict[str, tuple[Gate, ...]] = field(default_factory=dict)
    line: int = field(default=0, compare=False)
    waivers: dict[str, Waiver] = field(default_factory=dict)
    environments: dict[str, dict[str, EnvPin]] = field(default_factory=dict)  # environment -> alias -> pin

    def waiver_for(self, alias: str, version: int) -> Waiver | None:
        """The waiver of gates for moving `alias` to `version`, when the file declares one."""
        waiver = self.waivers.get(alias)
        return waiver if waiver and waiver.version == version else None

    def gates_for(self, alias: str, defaults: dict[str, tuple[Gate, ...]] | None = None) -> tuple[Gate, ...]:
        """Gates a move of `alias` must pass: file defaults, then this model's ('*' applies to all)."""
        out: list[Gate] = []
        for table in (defaults or {}, self.gates):
            out += table.get(ANY_ALIAS, ()) + table.get(alias, ())
        return tuple(out)


@dataclass(frozen=True)
class ServeEntry:
    """What one serving process loads: a model, or an LLM base with an adapter and prompts."""

    model: ModelRef
    adapter: ModelRef | None = None
    prompts: ModelRef | None = None
    served_name: str | None = None
    line: int = field(default=0, compare=False)

    def refs(self) -> tuple[ModelRef, ...]:
        return tuple(r for r in (self.model, self.adapter, self.prompts) if r is not None)


@dataclass(frozen=True)
class CanaryQuery:
    """One named PromQL query of a canary's analysis: the candidate passes while its value stays on `direction`'s
    side of `threshold` and, with `tolerance`, no more than that fraction worse than the stable track's."""

    name: str
    query: str
    threshold: float
    direction: str  # below | above
    tolerance: float | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Analysis:
    """The checks a canary step must pass: its queries over `window`, with at least `min_requests` per track."""

    window: str = "5m"
    min_requests: int = 100
    queries: tuple[CanaryQuery, ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Strategy:
    """How a deployment's candidate track takes traffic from its stable track (`serve`)."""

    type: str = "rolling"
    candidate: tuple[ServeEntry, ...] = ()
    weight: int = 0
    steps: tuple[int, ...] = ()
    active: str = "blue"
    line: int = field(default=0, compare=False)
    min_times: tuple[float, ...] = ()  # seconds a canary stays at each step at least (parallel to steps)
    analysis: Analysis | None = None
    affinity: tuple[str, str] | None = None  # ("cookie" | "header", name): one client stays on one track
    engine: str = "modelpins"  # canary: modelpins (two Deployments, weights in git) | argo-rollouts (a Rollout)


@dataclass(frozen=True)
class Resources:
    """Per pod: split between the pod's containers (GPUs go to its vLLM processes). gpu None: the default."""

    gpu: int | None = None
    memory: str = "16Gi"
    cpu: str = "4"


@dataclass(frozen=True)
class Route:
    """Where a deployment is reached through its environment's Gateway: its own hostnames, or a path prefix."""

    hostnames: tuple[str, ...] = ()
    path: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Deployment:
    name: str
    environment: str
    serve: tuple[ServeEntry, ...]
    strategy: Strategy = Strategy()
    replicas: int = 1
    resources: Resources = Resources()
    vllm_args: tuple[str, ...] = ()
    artifacts: str = "init"
    port: int = 8000
    route: Route | None = None
    line: int = field(default=0, compare=False)
    tensor_parallel_size: int | None = None  # GPUs per vLLM process (None: its share of the pod's GPUs)
    vllm_args_line: int = field(default=0, compare=False)
    resources_line: int = field(default=0, compare=False)


MODEL_SLOT = "{model}"


@dataclass(frozen=True)
class EnvRegistry:
    """Where an environment's registered models live: a server (None: the command's) and a name template."""

    tracking_uri: str | None = None
    model: str = MODEL_SLOT  # the registered model's name, `{model}` standing for the name under `models`
    line: int = field(default=0, compare=False)

    def name(self, model: str) -> str:
        return self.model.replace(MODEL_SLOT, model)


@dataclass(frozen=True)
class Environment:
    name: str
    namespace: str
    gateway: str | None = None
    hostnames: tuple[str, ...] = ()
    tracking_uri: str | None = None  # MLflow, for the pods that download artefacts (ConfigMap modelpins-mlflow)
    line: int = field(default=0, compare=False)
    registry: EnvRegistry | None = None
    owners: tuple[str, ...] = ()  # reviewers of every change to the pins in this environment's registry
    pull_secret: str | None = None  # Secret (kubernetes.io/dockerconfigjson) the pods pull their images with
    service_account: str | None = None  # ServiceAccount the pods run as (None: the namespace's default)


@dataclass(frozen=True)
class Promotion:
    """The order versions move through environments, and how long each must hold one first (seconds)."""

    order: tuple[str, ...] = ()
    soak: dict[str, float] = field(default_factory=dict)
    line: int = field(default=0, compare=False)
    soak_lines: dict[str, int] = field(default_factory=dict, compare=False)

    def previous(self, environment: str) -> str | None:
        if environment not in self.order:
            return None
        i = self.order.index(environment)
        return self.order[i - 1] if i else None


@dataclass(frozen=True)
class Images:
    registry: str | None = None
    base: str | None = None  # vLLM's image, for LLMs
    classic: str | None = None  # an MLflow model server image (mlflow + the flavors' libraries), for kind: model
    classic_base: str | None = None  # the Python image build makes that server image on (deploy/Dockerfile.mlflow)


@dataclass(frozen=True)
class PinsFile:
    path: str
    models: dict[str, ModelPins]
    owners: tuple[str, ...] = ()
    defaults: dict[str, tuple[Gate, ...]] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    images: Images = Images()
    version: int = SCHEMA_VERSION
    promotion: Promotion = Promotion()

    def pins(self) -> list[tuple[str, AliasPin]]:
        """Every (model, alias pin) in file order."""
        return [(m.name, pin) for m in self.models.values() for pin in m.aliases.values()]

    def gates_for(self, model: str, alias: str) -> tuple[Gate, ...]:
        return self.models[model].gates_for(alias, self.defaults)

    def env_pins(self) -> list[tuple[str, EnvPin]]:
        """Every (model, environment pin) in file order."""
        return [(m.name, p) for m in self.models.values() for env in m.environments.values() for p in env.values()]

    def alias_map(self) -> dict[str, dict[str, int]]:
        """{model: {alias: version}}, the same shape as the registry's state."""
        return {m.name: {a: p.version for a, p in m.aliases.items()} for m in self.models.values()}
