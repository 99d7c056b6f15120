"""The models section: each model's aliases (the desired registry state), kind, owners, waivers and gates."""

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field
from pydantic_core import InitErrorDetails

from modelpins.pins.data import AliasPin, EnvPin, EnvRef, ModelPins, ModelRef, Waiver
from modelpins.pins.fields import (
    NOT_GIVEN,
    AliasName,
    EnvAlias,
    K8sName,
    Owners,
    Ref,
    Spec,
    Text,
    Version,
    problem,
    report,
)
from modelpins.pins.gates import GateTable, gate_table
from modelpins.text import split_target
from modelpins.yamlsrc import Loc, Tree


def _one_per_case(aliases: dict[str, int]) -> dict[str, int]:
    seen: dict[str, str] = {}
    out = []
    for alias in aliases:
        if alias.lower() in seen:
            out.append(
                problem(
                    f"alias '{alias}' differs from '{seen[alias.lower()]}' only in case",
                    "MLflow alias names are case-insensitive on some stores; keep one",
                    alias,
                    "[key]",
                )
            )
        seen.setdefault(alias.lower(), alias)
    report(out)
    return aliases


class WaiverSpec(Spec):
    """Gates waived for one move: the alias back to `version`, a version that served it before."""

    version: Version
    reason: Text


class CopySpec(Spec):
    """An alias whose version is copied from another environment's registry when the change is applied."""

    promote_from: Annotated[
        EnvAlias, Field(description="`environment@alias`: copy the version that alias has there, then point at it")
    ]
    override: Annotated[
        Text, Field(description="why this pin may skip the promotion order's soak time (recorded in the audit tags)")
    ] = NOT_GIVEN


EnvPinSpec = Annotated[
    Version | CopySpec,
    Field(description="a version of the environment's model, or `{promote_from: environment@alias}`"),
]


class ModelSpec(Spec):
    model_config = ConfigDict(  # for editors: an adapter needs its base
        json_schema_extra={
            "if": {"properties": {"kind": {"const": "adapter"}}, "required": ["kind"]},
            "then": {"required": ["base"]},
        }
    )
    kind: Annotated[
        Literal["model", "base", "adapter", "prompts"],
        Field(description="`model` (default), `base`, `adapter` (with `base: model@alias`) or `prompts`"),
    ] = "model"
    base: Ref = NOT_GIVEN
    owners: Annotated[Owners, Field(description="approvers of this model's changes")] = []
    description: Annotated[Text, Field(description="intended use, for model cards")] = NOT_GIVEN
    limitations: Annotated[Text, Field(description="known limits, for model cards")] = NOT_GIVEN
    aliases: Annotated[
        dict[AliasName, Version],
        AfterValidator(_one_per_case),
        Field(description="alias -> version: the desired registry state"),
    ] = {}
    environments: Annotated[
        dict[K8sName, dict[AliasName, EnvPinSpec]],
        Field(description="environment -> alias -> version or `promote_from`, in that environment's registry"),
    ] = {}
    waivers: Annotated[
        dict[Text, WaiverSpec], Field(description="alias -> the rollback version whose gates are waived, and why")
    ] = {}
    gates: GateTable = {}

    def rules(self) -> list[InitErrorDetails]:
        if self.kind == "adapter" and self.base is None:
            return [problem("adapter '{name}' must name its base model", "add 'base: <base-model>@<alias>'")]
        return []

    def to_pins(self, name: str, loc: Loc, at: Tree) -> ModelPins:
        return ModelPins(
            name=name,
            aliases={a: AliasPin(a, v, at.line((*loc, "aliases", a))) for a, v in self.aliases.items()},
            kind=self.kind,
            base=ref(self.base, (*loc, "base"), at) if self.base else None,
            owners=tuple(self.owners),
            description=self.description or "",
            limitations=self.limitations or "",
            gates=gate_table(self.gates, (*loc, "gates"), at),
            line=at.key_line(loc),
            waivers={
                a: Waiver(a, w.version, w.reason, at.key_line((*loc, "waivers", a))) for a, w in self.waivers.items()
            },
            environments={
                env: {a: env_pin(env, a, p, (*loc, "environments", env, a), at) for a, p in pins.items()}
                for env, pins in self.environments.items()
            },
        )


def env_pin(env: str, alias: str, spec: int | CopySpec, loc: Loc, at: Tree) -> EnvPin:
    line = at.key_line(loc)
    if isinstance(spec, int):
        return EnvPin(env, alias, version=spec, line=line)
    source, _, source_alias = spec.promote_from.partition("@")
    ref = EnvRef(source, source_alias, at.line((*loc, "promote_from")))
    return EnvPin(env, alias, promote_from=ref, override=spec.override or "", line=line)


def ref(value: str, loc: Loc, at: Tree) -> ModelRef:
    model, alias = split_target(value)
    return ModelRef(model, alias or "", at.line(loc))
