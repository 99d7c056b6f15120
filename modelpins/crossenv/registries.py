"""Each environment's registry: which environments have pins, their adapters (own server and credentials)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from modelpins.errors import InvalidInput
from modelpins.mlflow_http import SERVER_FIX
from modelpins.pins import PinsFile
from modelpins.redact import public_url
from modelpins.registry import MlflowRegistry, environment_env


def has_default_pins(pins: PinsFile) -> bool:
    """Whether the file pins aliases in the command's registry itself (not only in environments')."""
    return any(m.aliases or not m.environments for m in pins.models.values())


def locate(pins: PinsFile, registered: str, environment: str | None = None) -> tuple[str, str] | None:
    """(environment, model under `models`) whose registry names `registered`, e.g. `prod.credit-risk`
    (in `environment` only, when given: on separate servers the names can be the same)."""
    for m in pins.models.values():
        for env in m.environments:
            if environment and env != environment:
                continue
            reg = pins.environments[env].registry if env in pins.environments else None
            if reg is not None and reg.name(m.name) == registered:
                return env, m.name
    return None


def connect(
    pins: PinsFile, default: MlflowRegistry | None, env: Mapping[str, str] | None = None
) -> dict[str, MlflowRegistry]:
    """The adapter of every environment that has pins: its own server (with its own credentials) or the command's."""
    out: dict[str, MlflowRegistry] = {}
    for name in pinned_environments(pins):
        reg = pins.environments[name].registry
        assert reg is not None  # cross_check refuses pins in an environment without one
        if reg.tracking_uri is None or (default and default.tracking_uri == reg.tracking_uri.rstrip("/")):
            if default is None:
                raise InvalidInput(
                    f"environment '{name}' uses the command's MLflow server, and none is given: pass --tracking-uri "
                    f"or set MLFLOW_TRACKING_URI (or give environments.{name}.registry.tracking_uri)"
                )
            out[name] = default
        else:
            out[name] = MlflowRegistry(reg.tracking_uri, env=environment_env(name, env))
    return out


def check_servers(pins: PinsFile, registries: Mapping[str, MlflowRegistry], checked: Collection[str] = ()) -> None:
    """The MLflow version of every environment's server, once per server (none in `checked`, the tracking URIs
    already checked): OperationFailed naming the environments of a server older than modelpins supports."""
    by_server: dict[str, list[str]] = {}
    for name, registry in registries.items():
        if registry.tracking_uri not in checked:
            by_server.setdefault(registry.tracking_uri, []).append(name)
    for names in by_server.values():
        reg = pins.environments[names[0]].registry
        assert reg is not None
        whose = "the MLflow server of environment" + ("s " if len(names) > 1 else " ")
        whose += ", ".join(f"'{n}'" for n in names)
        fix = f"point environments.{names[0]}.registry.tracking_uri in {pins.path} at one that is"
        registries[names[0]].check_server(whose, fix if reg.tracking_uri else SERVER_FIX)


def pinned_environments(pins: PinsFile) -> list[str]:
    """Environments with pins, in promotion order, then in the order the file declares them."""
    used = {env for m in pins.models.values() for env in m.environments}
    order = [e for e in pins.promotion.order if e in used]
    return order + [e for e in pins.environments if e in used and e not in order]


def uri(registry: MlflowRegistry) -> str:
    return public_url(registry.tracking_uri)
