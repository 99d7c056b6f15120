"""model_pins.yaml, version 1: the desired registry state, parsed strictly into typed data.

Every value keeps the line it came from (`line`, excluded from equality) so that
later checks against the registry can point at `model_pins.yaml:LINE` too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from modelpins.errors import InvalidInput, InvalidPins, Problem
from modelpins.yamlsrc import STR, Reader, line_of, parse, read_limited

SCHEMA_VERSION = 1
MAX_VERSION = 2**31 - 1
ALIAS_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")
RESERVED_ALIAS_RE = re.compile(r"latest|v\d+", re.IGNORECASE)
# ASCII only: a look-alike letter (Cyrillic 'а' for Latin 'a') would let a reviewer
# approve a change to a different model than the one they read.
MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}")
OWNER_RE = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9._-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+")
K8S_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# Kubernetes resource.Quantity: a plain decimal number with an SI or binary suffix (no sign: a request is >= 0)
QUANTITY_RE = re.compile(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][0-9]+)?", re.ASCII)
# Gateway API hostname: RFC 1123 labels, lower case, an optional leading '*.' wildcard, at most 253 characters
LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
HOSTNAME_RE = re.compile(rf"(\*\.)?{LABEL}(\.{LABEL})*", re.ASCII)
# a Gateway reference '<namespace>/<name>': a namespace label and a DNS-subdomain name
GATEWAY_RE = re.compile(rf"{LABEL}/{LABEL}(\.{LABEL})*", re.ASCII)
ANY_ALIAS = "*"

MODEL_KINDS = ("model", "base", "adapter", "prompts")
GATE_KINDS = ("threshold", "safety", "regression", "latency", "command")
STRATEGIES = ("rolling", "blue-green", "canary", "shadow", "ab")
ARTIFACT_MODES = ("image", "init")


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
      with `run` compares the script's `value` with min/max.
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
class Strategy:
    """How a deployment's candidate track takes traffic from its stable track (`serve`)."""

    type: str = "rolling"
    candidate: tuple[ServeEntry, ...] = ()
    weight: int = 0
    steps: tuple[int, ...] = ()
    active: str = "blue"
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Resources:
    gpu: int = 0
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


@dataclass(frozen=True)
class Environment:
    name: str
    namespace: str
    gateway: str | None = None
    hostnames: tuple[str, ...] = ()
    tracking_uri: str | None = None  # MLflow, for the pods that download artefacts (ConfigMap modelpins-mlflow)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Images:
    registry: str | None = None
    base: str | None = None  # vLLM's image, for LLMs
    classic: str | None = None  # an MLflow model server image (mlflow + the flavors' libraries), for kind: model


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

    def pins(self) -> list[tuple[str, AliasPin]]:
        """Every (model, alias pin) in file order."""
        return [(m.name, pin) for m in self.models.values() for pin in m.aliases.values()]

    def gates_for(self, model: str, alias: str) -> tuple[Gate, ...]:
        return self.models[model].gates_for(alias, self.defaults)

    def alias_map(self) -> dict[str, dict[str, int]]:
        """{model: {alias: version}}, the same shape as the registry's state."""
        return {m.name: {a: p.version for a, p in m.aliases.items()} for m in self.models.values()}


def load(path: str | Path) -> PinsFile:
    """Read and check a pins file; raise InvalidPins listing every problem with its line."""
    path = Path(path)
    try:
        data = read_limited(path)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: file not found (pass --pins PATH or create model_pins.yaml)") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    return loads(data, str(path))


def load_at(path: str | Path, ref: str) -> PinsFile | None:
    """The pins file as it stood at git `ref` (None when it did not exist there).

    Problems are reported against `<path>@<ref>` so they are not mistaken for the working copy's.
    """
    from modelpins import gitrepo

    repo, rel = gitrepo.locate(Path(path))
    data = gitrepo.show(repo, gitrepo.resolve(repo, ref), rel)
    return None if data is None else loads(data, f"{path}@{ref}")


def loads(text: str | bytes, path: str = "model_pins.yaml") -> PinsFile:
    root = parse(text, path)
    r = Reader(path)
    if root is None:
        raise InvalidPins([Problem(path, 1, "file is empty", "start with 'version: 1' and 'models:'")])
    top = r.mapping(
        root,
        "the file",
        ("version", "owners", "defaults", "models", "environments", "deployments", "images"),
        ("version", "models"),
    )
    if top is None:
        r.raise_if_any()
        raise AssertionError("unreachable")
    if "version" in top:
        version = r.integer(top["version"], "version", 1, 10**6)
        if version is not None and version != SCHEMA_VERSION:
            r.problem(
                top["version"],
                f"schema version {version} is not supported",
                f"this modelpins reads version {SCHEMA_VERSION}",
            )
    owners = _owners(r, top["owners"], "owners") if "owners" in top else ()
    defaults: dict[str, tuple[Gate, ...]] = {}
    if "defaults" in top:
        d = r.mapping(top["defaults"], "defaults", ("gates",))
        if d and "gates" in d:
            defaults = _gate_table(r, d["gates"], "defaults.gates")
    models = _models(r, top["models"]) if "models" in top else {}
    environments = _environments(r, top["environments"]) if "environments" in top else {}
    images = _images(r, top["images"]) if "images" in top else Images()
    deployments = _deployments(r, top["deployments"]) if "deployments" in top else {}
    pins = PinsFile(path, models, owners, defaults, environments, deployments, images)
    _cross_check(r, pins)
    r.raise_if_any()
    return pins


def _models(r: Reader, node: yaml.Node) -> dict[str, ModelPins]:
    models: dict[str, ModelPins] = {}
    for key, value in r.items(node, "models"):
        name = key.value
        if not MODEL_RE.fullmatch(name):
            r.problem(
                key,
                f"model name '{name}' is not allowed",
                "use ASCII letters, digits, '.', '_' and '-' (up to 256), starting with a letter or digit",
            )
            continue
        m = r.mapping(
            value,
            f"model '{name}'",
            ("aliases", "kind", "base", "owners", "description", "limitations", "gates", "waivers"),
            ("aliases",),
        )
        if m is None:
            continue
        aliases = _aliases(r, m["aliases"], name) if "aliases" in m else {}
        kind = _choice(r, m["kind"], f"kind of '{name}'", MODEL_KINDS) if "kind" in m else "model"
        base = _ref(r, m["base"], f"base of '{name}'") if "base" in m else None
        if kind == "adapter" and "base" not in m:
            r.problem(value, f"adapter '{name}' must name its base model", "add 'base: <base-model>@<alias>'")
        models[name] = ModelPins(
            name=name,
            aliases=aliases,
            kind=kind or "model",
            base=base,
            owners=_owners(r, m["owners"], f"owners of '{name}'") if "owners" in m else (),
            description=(r.string(m["description"], "description") or "") if "description" in m else "",
            limitations=(r.string(m["limitations"], "limitations") or "") if "limitations" in m else "",
            gates=_gate_table(r, m["gates"], f"gates of '{name}'") if "gates" in m else {},
            line=line_of(key),
            waivers=_waivers(r, m["waivers"], name, aliases) if "waivers" in m else {},
        )
    return models


def _waivers(r: Reader, node: yaml.Node, model: str, aliases: dict[str, AliasPin]) -> dict[str, Waiver]:
    """`waivers: {alias: {version: N, reason: text}}`: valid only while the alias is pinned to that version."""
    out: dict[str, Waiver] = {}
    for key, value in r.items(node, f"waivers of '{model}'"):
        m = r.mapping(value, f"waiver for {model}@{key.value}", ("version", "reason"), ("version", "reason"))
        if m is None or "version" not in m or "reason" not in m:
            continue
        version = r.integer(m["version"], f"version of the waiver for {model}@{key.value}", 1, MAX_VERSION)
        reason = r.string(m["reason"], f"reason of the waiver for {model}@{key.value}")
        pin = aliases.get(key.value)
        if pin is None:
            r.problem(
                key, f"waiver for '{model}@{key.value}', but '{key.value}' is not pinned for it", "remove the waiver"
            )
        elif version is not None and version != pin.version:
            r.problem(
                key,
                f"waiver for {model}@{key.value} names version {version}, but the alias is pinned to {pin.version}",
                f"remove the waiver: it covered the rollback to version {version} only",
            )
        if version is not None and reason is not None:
            out[key.value] = Waiver(key.value, version, reason, line_of(key))
    return out


def alias_problem(alias: str) -> tuple[str, str] | None:
    """(message, fix) when `alias` is not a name MLflow accepts, else None."""
    if RESERVED_ALIAS_RE.fullmatch(alias):
        return (
            f"alias '{alias}' is reserved by MLflow ('latest' and 'v<number>' name versions)",
            "choose another name, e.g. 'champion' or 'challenger'",
        )
    if not ALIAS_RE.fullmatch(alias):
        return (f"alias '{alias[:80]}' is not allowed", "use 1 to 255 ASCII letters, digits, '_' or '-'")
    return None


def _aliases(r: Reader, node: yaml.Node, model: str) -> dict[str, AliasPin]:
    aliases: dict[str, AliasPin] = {}
    lowered: dict[str, str] = {}  # lower-case name -> the alias as written first (one lookup per alias)
    for key, value in r.items(node, f"aliases of '{model}'"):
        bad = alias_problem(key.value)
        if bad:
            r.problem(key, *bad)
            continue
        if key.value.lower() in lowered:
            r.problem(
                key,
                f"alias '{key.value}' differs from '{lowered[key.value.lower()]}' only in case",
                "MLflow alias names are case-insensitive on some stores; keep one",
            )
            continue
        lowered[key.value.lower()] = key.value
        version = r.integer(value, f"version for {model}@{key.value}", 1, MAX_VERSION)
        if version is not None:
            aliases[key.value] = AliasPin(key.value, version, line_of(value))
    return aliases


def _owners(r: Reader, node: yaml.Node, what: str) -> tuple[str, ...]:
    owners = []
    for item in r.sequence(node, what) or []:
        owner = r.string(item, f"each entry of {what}")
        if owner is None:
            continue
        if not OWNER_RE.fullmatch(owner):
            r.problem(
                item,
                f"owner '{owner}' in {what} is not a GitHub @user, @org/team or e-mail",
                "write it as it would stand in CODEOWNERS, e.g. '@acme/risk-ml'",
            )
        owners.append(owner)
    return tuple(owners)


def _choice(r: Reader, node: yaml.Node, what: str, choices: tuple[str, ...]) -> str | None:
    value = r.string(node, what)
    if value is not None and value not in choices:
        r.problem(node, f"{what} '{value}' is not one of: {', '.join(choices)}", f"use one of: {', '.join(choices)}")
        return None
    return value


def _ref(r: Reader, node: yaml.Node, what: str) -> ModelRef | None:
    value = r.string(node, what)
    if value is None:
        return None
    model, at, alias = value.partition("@")
    if not at or not model or not alias:
        r.problem(node, f"{what} '{value}' must be written 'model@alias'", "e.g. 'llama-3-8b@production'")
        return None
    return ModelRef(model, alias, line_of(node))


def _gate_table(r: Reader, node: yaml.Node, what: str) -> dict[str, tuple[Gate, ...]]:
    table: dict[str, tuple[Gate, ...]] = {}
    for key, value in r.items(node, what):
        if key.value != ANY_ALIAS and alias_problem(key.value):
            r.problem(
                key,
                f"'{key.value}' in {what} is not an alias name",
                "key gates by the alias they guard (e.g. champion), or '*' for every alias",
            )
            continue
        items = r.sequence(value, f"{what}.{key.value}") or []
        gates = (_gate(r, item, f"gate in {what}.{key.value}") for item in items)
        table[key.value] = tuple(g for g in gates if g is not None)
    return table


_GATE_FIELDS = {
    "threshold": ("metric", "min", "max"),
    "safety": ("metric", "min", "max", "run", "timeout"),
    "regression": ("metric", "tolerance", "against", "higher_is_better"),
    "latency": ("endpoint", "body", "metric", "requests", "percentile", "max_ms", "timeout"),
    "command": ("run", "timeout"),
}
GATE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _gate(r: Reader, node: yaml.Node, what: str) -> Gate | None:
    if not isinstance(node, yaml.MappingNode):
        r.mapping(node, what)  # records the problem
        return None
    keys = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    if "kind" not in keys:
        r.problem(node, f"{what} is missing 'kind'", f"add 'kind: ' one of {', '.join(GATE_KINDS)}")
        return None
    kind = _choice(r, keys["kind"], "gate kind", GATE_KINDS)
    if kind is None:
        return None
    m = r.mapping(node, f"{kind} gate", ("kind", "name", *_GATE_FIELDS[kind]))
    if m is None:
        return None
    fields: dict[str, object] = {}
    for key, lo in (("min", None), ("max", None), ("tolerance", 0.0), ("max_ms", 0.0)):
        if key in m:
            fields["max" if key == "max_ms" else key] = r.number(m[key], f"{key} of {kind} gate", lo=lo)
    for key in ("metric", "endpoint", "body"):
        if key in m:
            fields[key] = r.string(m[key], f"{key} of {kind} gate")
    endpoint = fields.get("endpoint")
    if isinstance(endpoint, str) and not endpoint.startswith(("http://", "https://")):
        r.problem(m["endpoint"], f"endpoint '{endpoint[:80]}' is not an http(s) URL", "e.g. http://host:8000/v1/models")
    if "against" in m:
        against = r.string(m["against"], "against")
        if against and alias_problem(against):
            r.problem(
                m["against"], f"against '{against}' is not an alias name", "name the baseline alias, e.g. champion"
            )
        fields["against"] = against
    if "higher_is_better" in m:
        fields["higher_is_better"] = r.boolean(m["higher_is_better"], "higher_is_better")
    if "requests" in m:
        fields["requests"] = r.integer(m["requests"], "requests", 1, 100_000)
    if "percentile" in m:
        fields["percentile"] = r.number(m["percentile"], "percentile", 1, 100)
    if "timeout" in m:
        fields["timeout"] = r.number(m["timeout"], "timeout (seconds)", 0.1, 3600)
    if "run" in m:
        fields["run"] = r.strings(m["run"], "run") if not _is_str(m["run"]) else (r.string(m["run"], "run"),)
        if fields["run"] == () and not _is_str(m["run"]):
            r.problem(m["run"], "run is empty", "give the command as a list, e.g. [python, scripts/gates/x.py]")
    fields = {k: v for k, v in fields.items() if v is not None}
    name = r.string(m["name"], "gate name") if "name" in m else None
    if name and not GATE_NAME_RE.fullmatch(name):
        r.problem(
            m["name"], f"gate name '{name[:80]}' is not allowed", "use up to 64 ASCII letters, digits, '.', '_', '-'"
        )
    needs = {"threshold": ("metric",), "regression": ("metric",), "command": ("run",)}.get(kind, ())
    for need in needs:
        if need not in m:
            r.problem(node, f"{kind} gate needs '{need}'", f"add '{need}: ...'")
    if kind in ("threshold", "safety") and "min" not in m and "max" not in m:
        r.problem(node, f"{kind} gate needs 'min' or 'max'", "add 'min: 0.9' (or 'max: ...')")
    low, high = fields.get("min"), fields.get("max")
    if kind != "latency" and isinstance(low, float) and isinstance(high, float) and low > high:
        r.problem(node, f"{kind} gate has min {low:g} above max {high:g}", "swap them, or drop one")
    if kind == "safety" and "metric" in m and "run" in m:
        r.problem(node, "safety gate takes 'metric' (a logged score) or 'run' (a script), not both", "keep one")
    if kind == "safety" and "metric" not in m and "run" not in m:
        r.problem(
            node,
            "safety gate needs 'metric' (a logged score) or 'run' (a script computing it)",
            "add 'metric: safety_score' or 'run: [python, scripts/gates/safety_check.py]'",
        )
    if kind == "latency":
        if ("endpoint" in m) == ("metric" in m):
            r.problem(
                node,
                "latency gate needs exactly one of 'endpoint' (measured) or 'metric' (logged)",
                "keep 'endpoint: http://...' or 'metric: latency_p99_ms', not both",
            )
        if "max_ms" not in m:
            r.problem(node, "latency gate needs 'max_ms'", "add 'max_ms: 500'")
        for key in ("body", "requests", "percentile", "timeout"):
            if key in m and "endpoint" not in m:
                r.problem(m[key], f"'{key}' applies only to a latency gate with 'endpoint'", f"remove '{key}'")
    return Gate(kind=kind, name=name or _default_name(kind, fields), line=line_of(node), **fields)  # type: ignore[arg-type]


def _default_name(kind: str, fields: dict[str, object]) -> str:
    """threshold-accuracy, latency-latency_p99_ms, eval_suite (a command's script), ..."""
    run = fields.get("run")
    if isinstance(run, tuple) and run:
        script = next((a for a in run if a.endswith((".py", ".sh", ".R", ".js", ".rb"))), run[0])
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(script).stem)[:48] or "command"
        return stem if kind == "command" else f"{kind}-{stem}"
    metric = fields.get("metric")
    name = f"{kind}-{metric}" if isinstance(metric, str) else kind
    return name[:64] if GATE_NAME_RE.fullmatch(name[:64]) else kind


def _is_str(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode)


def _environments(r: Reader, node: yaml.Node) -> dict[str, Environment]:
    envs: dict[str, Environment] = {}
    for key, value in r.items(node, "environments"):
        _k8s_name(r, key, key.value, "environment name")
        m = r.mapping(
            value, f"environment '{key.value}'", ("namespace", "gateway", "hostnames", "tracking_uri"), ("namespace",)
        )
        if m is None or "namespace" not in m:
            continue
        namespace = r.string(m["namespace"], "namespace")
        if namespace:
            _k8s_name(r, m["namespace"], namespace, "namespace")
        gateway = r.string(m["gateway"], "gateway") if "gateway" in m else None
        if gateway and (len(gateway) > 64 + 253 or not GATEWAY_RE.fullmatch(gateway)):
            r.problem(
                m["gateway"],
                f"gateway '{gateway[:80]}' of environment '{key.value}' is not '<namespace>/<name>'",
                "name the Gateway by its namespace and name in lower case, e.g. 'gateway: gateways/ml-gateway'",
            )
        hostnames = r.strings(m["hostnames"], "hostnames") if "hostnames" in m else ()
        for host_node in _items(m.get("hostnames")):
            host = host_node.value if isinstance(host_node, yaml.ScalarNode) and host_node.tag == STR else ""
            if host and (len(host) > 253 or not HOSTNAME_RE.fullmatch(host)):
                r.problem(
                    host_node,
                    f"hostname '{host[:80]}' of environment '{key.value}' is not a valid DNS name (RFC 1123)",
                    "use lower-case letters, digits, '-' and '.', optionally starting with '*.', e.g. 'ml.example.com'",
                )
        envs[key.value] = Environment(
            name=key.value,
            namespace=namespace or "",
            gateway=gateway,
            hostnames=hostnames,
            tracking_uri=_tracking_uri(r, m["tracking_uri"]) if "tracking_uri" in m else None,
            line=line_of(key),
        )
    return envs


def _tracking_uri(r: Reader, node: yaml.Node) -> str | None:
    uri = r.string(node, "tracking_uri")
    if uri is not None and not re.fullmatch(r"(https?://|databricks(://)?)[^\s]*", uri):
        r.problem(node, f"tracking_uri '{uri[:80]}' is not an MLflow tracking URI", "e.g. https://mlflow.acme.example")
        return None
    return uri


def _items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _quantity(r: Reader, node: yaml.Node, what: str, example: str) -> str:
    """A Kubernetes quantity written as text (e.g. '16Gi', '500m'); a problem and '' otherwise."""
    value = r.string(node, what)
    if value and not QUANTITY_RE.fullmatch(value):
        r.problem(
            node,
            f"{what} '{value[:40]}' is not a Kubernetes quantity",
            f"write a number with an optional unit (Ki, Mi, Gi, Ti, m, k, M, G), e.g. '{example}'",
        )
    return value or ""


def _k8s_name(r: Reader, node: yaml.Node, value: str, what: str) -> None:
    if not K8S_NAME_RE.fullmatch(value):
        r.problem(
            node,
            f"{what} '{value}' is not a valid Kubernetes name",
            "use lower-case letters, digits and '-', at most 63 characters",
        )


def _images(r: Reader, node: yaml.Node) -> Images:
    m = r.mapping(node, "images", ("registry", "base", "classic")) or {}
    pinned = {}
    for key, example in (
        ("base", "vllm/vllm-openai@sha256:<digest>"),
        ("classic", "REGISTRY/mlflow-serve@sha256:<digest>"),
    ):
        value = r.string(m[key], f"images.{key}") if key in m else None
        if value and "@sha256:" not in value:
            r.problem(
                m[key],
                f"images.{key} '{value}' is not pinned by digest",
                f"write it as '{example}' so builds and pods are reproducible",
            )
        pinned[key] = value
    registry = r.string(m["registry"], "images.registry") if "registry" in m else None
    return Images(registry=registry, base=pinned["base"], classic=pinned["classic"])


def _deployments(r: Reader, node: yaml.Node) -> dict[str, Deployment]:
    out: dict[str, Deployment] = {}
    fields = ("environment", "serve", "strategy", "replicas", "resources", "vllm_args", "artifacts", "port", "route")
    for key, value in r.items(node, "deployments"):
        name = key.value
        _k8s_name(r, key, name, "deployment name")
        m = r.mapping(value, f"deployment '{name}'", fields, ("environment", "serve"))
        if m is None or "environment" not in m or "serve" not in m:
            continue
        res = Resources()
        if "resources" in m:
            rm = r.mapping(m["resources"], "resources", ("gpu", "memory", "cpu")) or {}
            res = Resources(
                gpu=r.integer(rm["gpu"], "resources.gpu", 0, 64) or 0 if "gpu" in rm else 0,
                memory=_quantity(r, rm["memory"], "resources.memory", "16Gi") if "memory" in rm else "16Gi",
                cpu=_quantity(r, rm["cpu"], "resources.cpu", "500m") if "cpu" in rm else "4",
            )
        out[name] = Deployment(
            name=name,
            environment=r.string(m["environment"], "environment") or "",
            serve=_serve_list(r, m["serve"], f"serve of '{name}'"),
            strategy=_strategy(r, m["strategy"], name) if "strategy" in m else Strategy(),
            replicas=(r.integer(m["replicas"], "replicas", 1, 1000) or 1) if "replicas" in m else 1,
            resources=res,
            vllm_args=r.strings(m["vllm_args"], "vllm_args") if "vllm_args" in m else (),
            artifacts=(_choice(r, m["artifacts"], "artifacts", ARTIFACT_MODES) or "init")
            if "artifacts" in m
            else "init",
            port=(r.integer(m["port"], "port", 1, 65535) or 8000) if "port" in m else 8000,
            route=_route(r, m["route"], name) if "route" in m else None,
            line=line_of(key),
        )
    return out


HOSTNAME_RE = re.compile(r"(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
PATH_RE = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def _route(r: Reader, node: yaml.Node, deployment: str) -> Route:
    """`route: {hostnames: [h, ...]}` and/or `route: {path: /prefix}`."""
    m = r.mapping(node, f"route of '{deployment}'", ("hostnames", "path")) or {}
    hostnames = r.strings(m["hostnames"], "route.hostnames") if "hostnames" in m else ()
    for host in hostnames:
        if len(host) > 253 or not HOSTNAME_RE.fullmatch(host):
            r.problem(
                m["hostnames"],
                f"route hostname '{host[:80]}' is not a DNS name",
                "use lower-case labels separated by '.', optionally starting with '*.'",
            )
    path = r.string(m["path"], "route.path") if "path" in m else None
    if path is not None and not PATH_RE.fullmatch(path):
        r.problem(
            m["path"],
            f"route path '{path[:80]}' is not a path prefix",
            "write it as '/<segment>[/<segment>...]' without a trailing '/', e.g. '/credit-risk'",
        )
    if not m:
        r.problem(node, f"route of '{deployment}' is empty", "give 'hostnames: [HOST]' or 'path: /PREFIX'")
    return Route(hostnames, path, line_of(node))


def _serve_list(r: Reader, node: yaml.Node, what: str) -> tuple[ServeEntry, ...]:
    items = r.sequence(node, what) or []
    if not items and isinstance(node, yaml.SequenceNode):
        r.problem(node, f"{what} is empty", "list at least one 'model@alias'")
    entries = (_serve_entry(r, item, what) for item in items)
    return tuple(e for e in entries if e is not None)


def _serve_entry(r: Reader, node: yaml.Node, what: str) -> ServeEntry | None:
    if _is_str(node):
        ref = _ref(r, node, f"entry of {what}")
        return ServeEntry(ref, line=line_of(node)) if ref else None
    m = r.mapping(node, f"entry of {what}", ("model", "adapter", "prompts", "name"), ("model",))
    if m is None or "model" not in m:
        return None
    model = _ref(r, m["model"], "model")
    if model is None:
        return None
    return ServeEntry(
        model=model,
        adapter=_ref(r, m["adapter"], "adapter") if "adapter" in m else None,
        prompts=_ref(r, m["prompts"], "prompts") if "prompts" in m else None,
        served_name=r.string(m["name"], "name") if "name" in m else None,
        line=line_of(node),
    )


def _strategy(r: Reader, node: yaml.Node, deployment: str) -> Strategy:
    m = r.mapping(node, f"strategy of '{deployment}'", ("type", "candidate", "weight", "steps", "active"), ("type",))
    if m is None or "type" not in m:
        return Strategy()
    kind = _choice(r, m["type"], "strategy type", STRATEGIES)
    if kind is None:
        return Strategy()
    allowed = {
        "rolling": (),
        "blue-green": ("candidate", "active"),
        "canary": ("candidate", "weight", "steps"),
        "shadow": ("candidate",),
        "ab": ("candidate", "weight"),
    }[kind]
    for key in m:
        if key != "type" and key not in allowed:
            r.problem(
                m[key],
                f"'{key}' does not apply to a {kind} strategy",
                f"a {kind} strategy takes: {', '.join(allowed) or 'no other fields'}",
            )
    if kind != "rolling" and "candidate" not in m:
        r.problem(
            node,
            f"a {kind} strategy needs 'candidate' (what the second track serves)",
            "add 'candidate: [model@challenger]'",
        )
    weight = (r.integer(m["weight"], "weight (percent)", 0, 100) or 0) if "weight" in m else 0
    steps: tuple[int, ...] = ()
    if "steps" in m:
        nodes = r.sequence(m["steps"], "steps") or []
        steps = tuple(w for w in (r.integer(n, "step weight", 1, 100) for n in nodes) if w is not None)
        if list(steps) != sorted(set(steps)):
            r.problem(m["steps"], "canary steps must increase", "e.g. [5, 25, 50, 100]")
        if "weight" in m and steps and weight not in steps:
            r.problem(
                m["weight"],
                f"weight {weight} is not one of the steps {list(steps)}",
                "set weight to the step the canary is at",
            )
        if "weight" not in m and steps:
            weight = steps[0]
    if kind in ("canary", "ab") and "weight" not in m and not steps:
        r.problem(node, f"a {kind} strategy needs 'weight' (percent of traffic to the candidate)", "add 'weight: 10'")
    active = "blue"
    if "active" in m:
        active = _choice(r, m["active"], "active", ("blue", "green")) or "blue"
    candidate = _serve_list(r, m["candidate"], "candidate") if "candidate" in m else ()
    return Strategy(kind, candidate, weight, steps, active, line_of(node))


def _cross_check(r: Reader, pins: PinsFile) -> None:
    """References between sections: bases, served models, environments, gate baselines."""

    def check_ref(ref: ModelRef | None, what: str) -> None:
        if ref is None:
            return
        target = pins.models.get(ref.model)
        if target is None:
            r.problem(
                ref.line,
                f"{what} '{ref}' names a model this file does not pin",
                f"add '{ref.model}' under models, or fix the name",
            )
        elif ref.alias not in target.aliases:
            r.problem(
                ref.line,
                f"{what} '{ref}': '{ref.model}' has no alias '{ref.alias}' in this file",
                f"pin it under models.{ref.model}.aliases, or use one of: {', '.join(target.aliases) or '(none)'}",
            )

    for model in pins.models.values():
        check_ref(model.base, f"base of '{model.name}'")
        for alias, gates in model.gates.items():
            if alias != ANY_ALIAS and alias not in model.aliases:
                r.problem(
                    gates[0].line if gates else model.line,
                    f"gates for '{model.name}@{alias}', but '{alias}' is not pinned for it",
                    "pin the alias or remove its gates",
                )
        for alias in model.aliases:
            seen: dict[str, Gate] = {}
            for gate in model.gates_for(alias, pins.defaults):
                if gate.name in seen:
                    r.problem(
                        gate.line,
                        f"two gates named '{gate.name}' apply to {model.name}@{alias} "
                        f"(the other on line {seen[gate.name].line})",
                        "give one of them a distinct 'name:'",
                    )
                seen.setdefault(gate.name, gate)
    for dep in pins.deployments.values():
        if dep.environment and dep.environment not in pins.environments:
            r.problem(
                dep.line,
                f"deployment '{dep.name}' names environment '{dep.environment}' that is not declared",
                "add it under 'environments:'",
            )
        for entry in dep.serve + dep.strategy.candidate:
            for ref in entry.refs():
                check_ref(ref, f"deployment '{dep.name}' serves")


def dump(pins: PinsFile) -> str:
    """The canonical YAML text of `pins`: every section, defaults left out, such that `loads(dump(p)) == p`.

    Comments and the original key order are not kept; edits of a file in git should keep its text instead.
    """
    top: dict[str, object] = {"version": pins.version}
    if pins.owners:
        top["owners"] = list(pins.owners)
    if pins.defaults:
        top["defaults"] = {"gates": _dump_gates(pins.defaults)}
    top["models"] = {name: _dump_model(m) for name, m in pins.models.items()}
    if pins.environments:
        top["environments"] = {name: _dump_environment(e) for name, e in pins.environments.items()}
    if pins.deployments:
        top["deployments"] = {name: _dump_deployment(d) for name, d in pins.deployments.items()}
    i = pins.images
    images = {k: v for k, v in (("registry", i.registry), ("base", i.base), ("classic", i.classic)) if v}
    if images:
        top["images"] = images
    return yaml.safe_dump(top, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def _dump_model(m: ModelPins) -> dict[str, object]:
    out: dict[str, object] = {}
    if m.kind != "model":
        out["kind"] = m.kind
    if m.base:
        out["base"] = str(m.base)
    if m.owners:
        out["owners"] = list(m.owners)
    for key in ("description", "limitations"):
        if getattr(m, key):
            out[key] = getattr(m, key)
    out["aliases"] = {a: p.version for a, p in m.aliases.items()}
    if m.waivers:
        out["waivers"] = {a: {"version": w.version, "reason": w.reason} for a, w in m.waivers.items()}
    if m.gates:
        out["gates"] = _dump_gates(m.gates)
    return out


def _dump_gates(table: dict[str, tuple[Gate, ...]]) -> dict[str, object]:
    return {alias: [_dump_gate(g) for g in gates] for alias, gates in table.items()}


def _dump_gate(g: Gate) -> dict[str, object]:
    out: dict[str, object] = {"kind": g.kind, "name": g.name}
    defaults = Gate(kind=g.kind, name=g.name)
    for key in _GATE_FIELDS[g.kind]:
        field_name = "max" if key == "max_ms" else key
        value = getattr(g, field_name)
        if value != getattr(defaults, field_name):
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _dump_environment(e: Environment) -> dict[str, object]:
    out: dict[str, object] = {"namespace": e.namespace}
    if e.gateway:
        out["gateway"] = e.gateway
    if e.hostnames:
        out["hostnames"] = list(e.hostnames)
    if e.tracking_uri:
        out["tracking_uri"] = e.tracking_uri
    return out


def _dump_serve(entry: ServeEntry) -> object:
    if entry.adapter is None and entry.prompts is None and entry.served_name is None:
        return str(entry.model)
    out: dict[str, object] = {"model": str(entry.model)}
    if entry.adapter:
        out["adapter"] = str(entry.adapter)
    if entry.prompts:
        out["prompts"] = str(entry.prompts)
    if entry.served_name:
        out["name"] = entry.served_name
    return out


def _dump_deployment(d: Deployment) -> dict[str, object]:
    out: dict[str, object] = {"environment": d.environment, "serve": [_dump_serve(e) for e in d.serve]}
    s = d.strategy
    if s != Strategy():
        strategy: dict[str, object] = {"type": s.type}
        if s.candidate:
            strategy["candidate"] = [_dump_serve(e) for e in s.candidate]
        if s.type in ("canary", "ab"):
            strategy["weight"] = s.weight
        if s.steps:
            strategy["steps"] = list(s.steps)
        if s.type == "blue-green" and s.active != "blue":
            strategy["active"] = s.active
        out["strategy"] = strategy
    if d.replicas != 1:
        out["replicas"] = d.replicas
    if d.resources != Resources():
        out["resources"] = {"gpu": d.resources.gpu, "memory": d.resources.memory, "cpu": d.resources.cpu}
    if d.vllm_args:
        out["vllm_args"] = list(d.vllm_args)
    if d.artifacts != "init":
        out["artifacts"] = d.artifacts
    if d.port != 8000:
        out["port"] = d.port
    if d.route:
        route: dict[str, object] = {}
        if d.route.hostnames:
            route["hostnames"] = list(d.route.hostnames)
        if d.route.path:
            route["path"] = d.route.path
        out["route"] = route
    return out
