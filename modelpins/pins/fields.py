"""What every section of the schema shares: the strict base model, the value types and the project's messages.

A value type carries its constraints (checked by pydantic and published in the JSON Schema)
and, where the generic message would not say enough, a `Says` with the project's own
message and fix. `{value}`, `{what}` (the value's name) and `{parent}` (its container's) are filled in where
the problem is reported; `{name}` is the name of the model, environment or deployment it is in.
"""

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from modelpins.envvars import url_problem
from modelpins.pins.names import (
    ALIAS_RE,
    GATEWAY_RE,
    HOSTNAME_RE,
    K8S_NAME_RE,
    MAX_VERSION,
    MODEL_RE,
    OWNER_RE,
    PATH_RE,
    QUANTITY_RE,
    TRACKING_URI_RE,
    alias_problem,
)
from modelpins.redact import public_url, userinfo

ERROR = "modelpins"  # the error type of every rule written here; its context holds message and fix


NOT_GIVEN: Any = None  # the default of a field whose absence means "not given" (null itself is refused)


class Spec(BaseModel):
    """A mapping of the file: unknown fields, wrong types and non-finite numbers are errors.

    `rules` checks what relates the mapping's fields, once each of them is valid.
    """

    model_config = ConfigDict(
        extra="forbid", strict=True, allow_inf_nan=False, frozen=True, regex_engine="rust-regex", defer_build=True
    )
    missing: ClassVar[str] = "{what} is missing required field '{field}'"

    def rules(self) -> list[InitErrorDetails]:
        return []

    @model_validator(mode="after")
    def _check_rules(self) -> "Spec":
        report(self.rules())
        return self


@dataclass(frozen=True)
class Says:
    """The message and fix for a value that breaks its type's pattern or length."""

    message: str = ""
    fix: str = ""


def problem(message: str, fix: str, *loc: str | int) -> InitErrorDetails:
    """One located problem found by a rule; `loc` is relative to the value the rule checks."""
    return InitErrorDetails(type=refuse(message, fix), loc=tuple(loc), input=None)


def refuse(message: str, fix: str) -> PydanticCustomError:
    """The error a value's own check raises, in the project's words."""
    return PydanticCustomError(ERROR, "{message}", {"message": message, "fix": fix})


def report(problems: list[InitErrorDetails]) -> None:
    """Raise every problem a rule found at once (pydantic prefixes each with the rule's place)."""
    if problems:
        raise ValidationError.from_exception_data("model_pins.yaml", problems)


def _alias(value: str) -> str:
    bad = alias_problem(value)
    if bad:
        raise refuse(*bad)
    return value


Text = Annotated[str, Field(min_length=1)]
Version = Annotated[int, Field(ge=1, le=MAX_VERSION, description="a registered model version")]
AliasName = Annotated[
    str,
    Field(pattern=f"^{ALIAS_RE.pattern}$"),
    Field(json_schema_extra={"not": {"pattern": "^([Ll][Aa][Tt][Ee][Ss][Tt]|[Vv][0-9]+)$"}}),
    AfterValidator(_alias),
    Says("alias '{value}' is not allowed", "use 1 to 255 ASCII letters, digits, '_' or '-'"),
]
# ASCII only: a look-alike letter (Cyrillic 'а' for Latin 'a') would let a reviewer
# approve a change to a different model than the one they read.
ModelName = Annotated[
    str,
    Field(min_length=1, pattern=f"^{MODEL_RE.pattern}$"),
    Says(
        "model name '{value}' is not allowed",
        "use ASCII letters, digits, '.', '_' and '-' (up to 256), starting with a letter or digit",
    ),
]
K8sName = Annotated[
    str,
    Field(min_length=1, pattern=f"^{K8S_NAME_RE.pattern}$"),
    Says(
        "{what} '{value}' is not a valid Kubernetes name",
        "use lower-case letters, digits and '-', at most 63 characters",
    ),
]
Ref = Annotated[
    str,
    Field(
        min_length=1, pattern=r"^[^@]+@[\s\S]+$", description="`model@alias`: a pinned alias of a model in this file"
    ),
    Says("{what} '{value}' must be written 'model@alias'", "e.g. 'llama-3-8b@production'"),
]
Owner = Annotated[
    str,
    Field(min_length=1, pattern=f"^({OWNER_RE.pattern})$"),
    Says(
        "owner '{value}' in {parent} is not a GitHub @user, @org/team or e-mail",
        "write it as it would stand in CODEOWNERS, e.g. '@acme/risk-ml'",
    ),
]


def _quantity_says(example: str) -> Says:
    return Says(
        "{what} '{value}' is not a Kubernetes quantity",
        f"write a number with an optional unit (Ki, Mi, Gi, Ti, m, k, M, G), e.g. '{example}'",
    )


# Kubernetes quantities written as text (e.g. '16Gi', '500m')
QUANTITY = Field(min_length=1, pattern=f"^{QUANTITY_RE.pattern}$", description="Kubernetes quantity")
Memory = Annotated[str, QUANTITY, _quantity_says("16Gi")]
Cpu = Annotated[str, QUANTITY, _quantity_says("500m")]


Hostname = Annotated[
    str,
    Field(min_length=1, max_length=253, pattern=f"^{HOSTNAME_RE.pattern}$"),
    Says(
        "hostname '{value}' of environment '{name}' is not a valid DNS name (RFC 1123)",
        "use lower-case letters, digits, '-' and '.', optionally starting with '*.', e.g. 'ml.example.com'",
    ),
]
RouteHostname = Annotated[
    str,
    Field(min_length=1, max_length=253, pattern=f"^{HOSTNAME_RE.pattern}$"),
    Says(
        "route hostname '{value}' is not a DNS name",
        "use lower-case labels separated by '.', optionally starting with '*.'",
    ),
]
RoutePath = Annotated[
    str,
    Field(min_length=1, pattern=f"^{PATH_RE.pattern}$", description="a path prefix, e.g. `/credit-risk`"),
    Says(
        "route path '{value}' is not a path prefix",
        "write it as '/<segment>[/<segment>...]' without a trailing '/' and with no '.' or '..' segment, "
        "e.g. '/credit-risk'",
    ),
]
GatewayRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64 + 253,
        pattern=f"^{GATEWAY_RE.pattern}$",
        description="Gateway API gateway (`namespace/name`) the HTTPRoutes attach to",
    ),
    Says(
        "gateway '{value}' of environment '{name}' is not '<namespace>/<name>'",
        "name the Gateway by its namespace and name in lower case, e.g. 'gateway: gateways/ml-gateway'",
    ),
]


def _tracking_uri(value: str) -> str:
    if userinfo(value):
        raise refuse(
            f"tracking_uri '{public_url(value)}' holds credentials ('user:password@'); the pins file is reviewed, "
            "committed and rendered into the modelpins-mlflow ConfigMap, so credentials never belong in it",
            "remove 'user:password@' and set MODELPINS_ENV_<ENV>_MLFLOW_TRACKING_USERNAME and _PASSWORD "
            "(or _TOKEN) where modelpins runs, and the pods' credentials in a Secret",
        )
    problem = url_problem(value) if value[:4].lower() == "http" else None
    if problem:
        raise refuse(f"tracking_uri {value!r} is not allowed: {problem}", "give it as http(s)://HOST[:PORT][/PATH]")
    return value


TrackingUri = Annotated[
    str,
    AfterValidator(_tracking_uri),
    Field(
        min_length=1,
        pattern=f"^{TRACKING_URI_RE.pattern}$",
        description="MLflow tracking URI for the pods that download artefacts",
    ),
    Says("tracking_uri '{value}' is not an MLflow tracking URI", "e.g. https://mlflow.acme.example"),
]
EnvAlias = Annotated[
    str,
    Field(
        min_length=1,
        pattern=f"^{K8S_NAME_RE.pattern}@{ALIAS_RE.pattern}$",
        description="`environment@alias`: the same model's alias in another environment",
    ),
    Says("promote_from '{value}' must be written 'environment@alias'", "e.g. 'promote_from: staging@champion'"),
]
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
Duration = Annotated[
    str,
    Field(min_length=2, pattern=r"^[0-9]{1,6}[smhd]$", description="a duration: a whole number and s, m, h or d"),
    Says("duration '{value}' is not allowed", "write a whole number and a unit, e.g. '24h', '90m' or '2d'"),
]


def seconds(duration: str) -> float:
    return float(int(duration[:-1]) * DURATION_UNITS[duration[-1]])


Owners = Annotated[list[Owner], Field(description="GitHub `@user`, `@org/team` or e-mail, as in CODEOWNERS")]
