"""The gates section: six gate kinds, each a model of its own, chosen by `kind`.

Adding a gate kind: a `GateSpec` subclass with its `kind` literal and fields, listed in
`GATE_SPECS`; the runtime in modelpins.gates runs it.
"""

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import yaml
from pydantic import AfterValidator, Discriminator, Field, Tag
from pydantic_core import InitErrorDetails

from modelpins.pins.data import Gate
from modelpins.pins.fields import NOT_GIVEN, Says, Spec, Text, problem, refuse
from modelpins.pins.names import ANY_ALIAS, GATE_NAME_RE, alias_problem, default_gate_name
from modelpins.yamlsrc import Loc, Tree

GateName = Annotated[
    str,
    Field(
        min_length=1,
        pattern=f"^{GATE_NAME_RE.pattern}$",
        description="unique per model and alias; default `<kind>-<metric>` or the script's name",
    ),
    Says("gate name '{value}' is not allowed", "use up to 64 ASCII letters, digits, '.', '_', '-'"),
]
Bound = Annotated[float, Field(description="inclusive bound")]
Timeout = Annotated[float, Field(ge=0.1, le=3600, description="seconds")]
RegistryCredentials = Annotated[
    bool,
    Field(description="the script gets the MLFLOW_TRACKING_* credentials of the registry it evaluates (default: none)"),
]
Argv = Annotated[
    list[Text],
    Field(min_length=1),
    Says("run is empty", "give the command as a list, e.g. [python, scripts/gates/x.py]"),
]
PLAIN_ARG = re.compile(r"-{0,2}[A-Za-z0-9_./][A-Za-z0-9_./=+-]*")


def _flow_item(word: str) -> str:
    """`word` as an item of a YAML flow list that reads back as that text (quoted unless plain text)."""
    plain = PLAIN_ARG.fullmatch(word) and yaml.safe_load(f"[{word}]") == [word]
    return word if plain else json.dumps(word)


def _one_program(value: str) -> str:
    """`run` as text names one program: 'python x.py' would run a program called "python x.py"."""
    if not any(c.isspace() for c in value):
        return value
    try:
        words = shlex.split(value)
    except ValueError:
        words = value.split()
    listed = ", ".join(_flow_item(w) for w in words) or "PROGRAM"
    raise refuse(
        f"run '{value[:80]}' is text with spaces: it would run one program named so, without a shell",
        f"write the command as a list, one argument each: 'run: [{listed}]'",
    )


Program = Annotated[
    Text,
    AfterValidator(_one_program),
    Field(json_schema_extra={"pattern": r"^\S+$"}, description="one program, without arguments"),
]
Run = Annotated[
    Annotated[Program, Tag("command line")] | Annotated[Argv, Tag("argv")],
    Discriminator(lambda v: "argv" if isinstance(v, list) else "command line"),
    Field(description="argv, run without a shell in the pins file's directory; JSON on stdin and stdout"),
]


class GateSpec(Spec):
    missing: ClassVar[str] = "{what} needs '{field}'"
    kind: str
    name: GateName = NOT_GIVEN

    def to_gate(self, line: int) -> Gate:
        given = {key: getattr(self, key) for key in self.model_fields_set if key not in ("kind", "name")}
        if "max_ms" in given:
            given["max"] = given.pop("max_ms")
        if isinstance(given.get("certificate_chain"), list):
            given["certificate_chain"] = tuple(given["certificate_chain"])
        if isinstance(given.get("run"), (str, list)):
            given["run"] = (given["run"],) if isinstance(given["run"], str) else tuple(given["run"])
        name = self.name or default_gate_name(self.kind, given.get("run", ()), given.get("metric"))
        return Gate(kind=self.kind, name=name, line=line, **given)


class Bounded(GateSpec):
    """A gate judging a value by `min` and `max` (declared by each kind, after its own fields)."""

    if TYPE_CHECKING:
        min: float | None
        max: float | None

    def rules(self) -> list[InitErrorDetails]:
        out = []
        if self.min is None and self.max is None:
            out.append(problem(f"{self.kind} gate needs 'min' or 'max'", "add 'min: 0.9' (or 'max: ...')"))
        elif self.min is not None and self.max is not None and self.min > self.max:
            out.append(
                problem(f"{self.kind} gate has min {self.min:g} above max {self.max:g}", "swap them, or drop one")
            )
        return out


class ThresholdGate(Bounded):
    """the run's `metric` lies within `min`..`max`"""

    kind: Literal["threshold"]
    metric: Annotated[Text, Field(description="a metric logged in the version's MLflow run")]
    min: Bound = NOT_GIVEN
    max: Bound = NOT_GIVEN


class SafetyGate(Bounded):
    """a safety score lies within `min`..`max`: a logged `metric`, or the `value` a `run` script computes"""

    kind: Literal["safety"]
    metric: Annotated[Text, Field(description="a logged score")] = NOT_GIVEN
    min: Bound = NOT_GIVEN
    max: Bound = NOT_GIVEN
    run: Annotated[Run, Field(description="a script printing the score as `value`")] = NOT_GIVEN
    timeout: Timeout = 60.0
    registry_credentials: RegistryCredentials = False

    def rules(self) -> list[InitErrorDetails]:
        out = super().rules()
        if self.metric is not None and self.run is not None:
            out.append(problem("safety gate takes 'metric' (a logged score) or 'run' (a script), not both", "keep one"))
        if self.metric is None and self.run is None:
            out.append(
                problem(
                    "safety gate needs 'metric' (a logged score) or 'run' (a script computing it)",
                    "add 'metric: safety_score' or 'run: [python, scripts/gates/safety_check.py]'",
                )
            )
        if self.registry_credentials and self.run is None:
            out.append(problem("'registry_credentials' applies only to a gate with 'run'", "remove it"))
        return out


def _baseline(value: str) -> str:
    if alias_problem(value):
        raise refuse(f"against '{value}' is not an alias name", "name the baseline alias, e.g. champion")
    return value


class RegressionGate(GateSpec):
    """candidate's `metric` >= the baseline's minus `tolerance` (<= plus, with `higher_is_better: false`); the
    baseline is the version `against` (default: the alias being moved) points to **now** in the registry;
    no baseline yet passes, with a note"""

    kind: Literal["regression"]
    metric: Annotated[Text, Field(description="logged in both versions' runs")]
    tolerance: Annotated[float, Field(ge=0, description="how much worse than the baseline still passes")] = 0.0
    against: Annotated[
        Text, AfterValidator(_baseline), Field(description="baseline alias (default: the alias being moved)")
    ] = NOT_GIVEN
    higher_is_better: Annotated[bool, Field(description="false for a loss or an error rate")] = True


class LatencyGate(GateSpec):
    """p`percentile` (default 99) of `requests` (default 50) real requests to `endpoint` is at most `max_ms`;
    or a logged `metric` is"""

    kind: Literal["latency"]
    endpoint: Annotated[
        str,
        Field(min_length=1, pattern="^https?://", description="`{model}`, `{version}`, `{alias}` are filled in"),
        Says("endpoint '{value}' is not an http(s) URL", "e.g. http://host:8000/v1/models"),
    ] = NOT_GIVEN
    body: Annotated[Text, Field(description="POSTed as JSON")] = NOT_GIVEN
    metric: Annotated[Text, Field(description="a logged latency, instead of an endpoint")] = NOT_GIVEN
    requests: Annotated[int, Field(ge=1, le=100_000)] = 50
    percentile: Annotated[float, Field(ge=1, le=100)] = 99.0
    max_ms: Annotated[float, Field(ge=0, description="the limit, in milliseconds"), Says(fix="add 'max_ms: 500'")]
    timeout: Annotated[
        Timeout,
        Field(description="seconds for the gate, each request as a whole: a server that trickles bytes is cut off"),
    ] = 60.0

    def rules(self) -> list[InitErrorDetails]:
        out = []
        if (self.endpoint is None) == (self.metric is None):
            out.append(
                problem(
                    "latency gate needs exactly one of 'endpoint' (measured) or 'metric' (logged)",
                    "keep 'endpoint: http://...' or 'metric: latency_p99_ms', not both",
                )
            )
        if self.endpoint is None:
            for key in ("body", "requests", "percentile", "timeout"):
                if key in self.model_fields_set:
                    out.append(
                        problem(f"'{key}' applies only to a latency gate with 'endpoint'", f"remove '{key}'", key)
                    )
        return out


class CommandGate(GateSpec):
    """the command's verdict says `passed`"""

    kind: Literal["command"]
    run: Run
    timeout: Timeout = 60.0
    registry_credentials: RegistryCredentials = False


RepoFile = Annotated[
    str,
    Field(min_length=1, pattern=r"^[^/\\][^\\]*$", description="a PEM file, relative to the pins file"),
    Says(
        "'{value}' is not a path relative to the pins file", "give the PEM file's path from the pins file's directory"
    ),
]


class SignatureGate(GateSpec):
    """the version's signature bundle (`modelpins sign`) verifies against every artefact file and was made by the
    required signer: `public_key`, a certificate chained to `certificate_chain`, or the keyless Sigstore `identity`
    (the signing workflow) issued by `issuer`; fails closed when unsigned, changed or signed by another"""

    kind: Literal["signature"]
    public_key: Annotated[RepoFile, Field(description="the signer's PEM public key, relative to the pins file")] = (
        NOT_GIVEN
    )
    certificate_chain: Annotated[
        list[RepoFile], Field(min_length=1, description="PEM certificates the signing certificate must chain to")
    ] = NOT_GIVEN
    identity: Annotated[
        Text,
        Field(
            description="keyless: the workflow that must have signed, e.g. "
            "`https://github.com/ORG/REPO/.github/workflows/train.yml@refs/heads/main`"
        ),
    ] = NOT_GIVEN
    issuer: Annotated[
        Text, Field(description="keyless: the OIDC issuer (default GitHub Actions')", pattern="^https://")
    ] = NOT_GIVEN

    def rules(self) -> list[InitErrorDetails]:
        given = [k for k in ("public_key", "certificate_chain", "identity") if getattr(self, k) is not None]
        out = []
        if len(given) != 1:
            out.append(
                problem(
                    "signature gate needs exactly one of 'public_key', 'certificate_chain' or 'identity' (who signs)",
                    "e.g. 'public_key: keys/release.pub', or 'identity: https://github.com/ORG/REPO/.github/workflows/"
                    "train.yml@refs/heads/main'",
                )
            )
        if self.issuer is not None and self.identity is None:
            out.append(problem("'issuer' applies only to a keyless signature gate with 'identity'", "remove 'issuer'"))
        return out


GATE_SPECS: tuple[type[GateSpec], ...] = (
    ThresholdGate,
    SafetyGate,
    RegressionGate,
    LatencyGate,
    CommandGate,
    SignatureGate,
)
AnyGate = Annotated[
    ThresholdGate | SafetyGate | RegressionGate | LatencyGate | CommandGate | SignatureGate,
    Field(discriminator="kind"),
]


def _gate_key(value: str) -> str:
    if value != ANY_ALIAS and alias_problem(value):
        raise refuse(
            f"'{value}' in {{parent}} is not an alias name",
            "key gates by the alias they guard (e.g. champion), or '*' for every alias",
        )
    return value


GateTable = Annotated[
    dict[Annotated[str, AfterValidator(_gate_key)], list[AnyGate]],
    Field(description='gates keyed by the alias they guard, `"*"` for every alias'),
]


def gate_table(table: Mapping[str, Sequence[GateSpec]], loc: Loc, at: Tree) -> dict[str, tuple[Gate, ...]]:
    return {
        alias: tuple(g.to_gate(at.line((*loc, alias, i))) for i, g in enumerate(gates))
        for alias, gates in table.items()
    }
