"""The checks render and build make before anything is written: deployments, routes, MLflow settings. Pure."""

from __future__ import annotations

from modelpins.errors import InvalidPins, Problem
from modelpins.pins import Deployment, PinsFile
from modelpins.serving.tracks import MAX_NAME, MLFLOW_CONFIG, resolve, route_target, track_names, tracks


def check(pins: PinsFile) -> None:
    """Serving rules the schema alone cannot see; InvalidPins with file:line and the fix."""
    problems: list[Problem] = []
    for dep in pins.deployments.values():
        for rule in (_placement, _kinds, _adapter_bases, _tracks):
            problems += [Problem(pins.path, line or dep.line, message, fix) for message, fix, line in rule(pins, dep)]
    problems += _route_conflicts(pins) + _mlflow_config_problems(pins)
    if problems:
        raise InvalidPins(problems)


Found = list[tuple[str, str, int]]  # (message, fix, line; 0 for the deployment's)


def _add(out: Found, message: str, fix: str, line: int = 0) -> None:
    out.append((message, fix, line))


def _placement(pins: PinsFile, dep: Deployment) -> Found:
    """The deployment's name and the gateway its strategy needs."""
    out: Found = []

    env = pins.environments.get(dep.environment)
    if len(dep.name) > MAX_NAME:
        _add(
            out,
            f"deployment name '{dep.name}' is longer than {MAX_NAME} characters",
            "shorten it: objects are named '<deployment>-candidate' and must fit 63 characters",
        )
    if dep.strategy.type in ("canary", "ab", "shadow") and env and not env.gateway:
        _add(
            out,
            f"deployment '{dep.name}' uses a {dep.strategy.type} strategy, which splits traffic with a "
            f"Gateway API HTTPRoute, but environment '{env.name}' has no gateway",
            f"add 'gateway: <namespace>/<name>' to environments.{env.name}, or use rolling or blue-green",
            dep.strategy.line,
        )
    if env and env.gateway and env.gateway.count("/") != 1:
        _add(
            out,
            f"gateway '{env.gateway}' of environment '{env.name}' must be written '<namespace>/<name>'",
            "e.g. 'gateway: gateways/ml-gateway'",
            env.line,
        )
    return out


def _kinds(pins: PinsFile, dep: Deployment) -> Found:
    """Each served reference has the kind its place in the entry takes."""
    out: Found = []

    for entry in dep.serve + dep.strategy.candidate:
        for ref, role, kinds in (
            (entry.model, "model", ("model", "base")),
            (entry.adapter, "adapter", ("adapter",)),
            (entry.prompts, "prompts", ("prompts",)),
        ):
            kind = pins.models[ref.model].kind if ref else None
            if ref and kind not in kinds:
                _add(
                    out,
                    f"'{ref}' is of kind '{kind}' but is served as '{role}'",
                    f"move it to the '{kind if kind != 'base' else 'model'}' field of this entry, "
                    f"or correct models.{ref.model}.kind",
                    ref.line or entry.line,
                )
    return out


def _adapter_bases(pins: PinsFile, dep: Deployment) -> Found:
    """Each adapter is served on the base model, and base version, it was trained on."""
    out: Found = []

    for entry in dep.serve + dep.strategy.candidate:
        trained_on = pins.models[entry.adapter.model].base if entry.adapter else None
        if entry.adapter and trained_on and trained_on.model != entry.model.model:
            _add(
                out,
                f"adapter '{entry.adapter}' was trained on '{trained_on.model}', not '{entry.model.model}'",
                f"serve it on '{trained_on}'",
                entry.line,
            )
        elif entry.adapter and trained_on and resolve(pins, trained_on).version != resolve(pins, entry.model).version:
            _add(
                out,
                f"adapter '{entry.adapter}' was trained on {trained_on} (v{resolve(pins, trained_on).version}) "
                f"but is served on {entry.model} (v{resolve(pins, entry.model).version})",
                f"serve it on '{trained_on}', or pin an adapter version trained on that base version",
                entry.line,
            )
    return out


def _tracks(pins: PinsFile, dep: Deployment) -> Found:
    """One chat template per vLLM process, distinct served names, the same names on both tracks."""
    out: Found = []

    ts = tracks(pins, dep)
    for t in ts:
        for srv in t.servers:
            group = [e for e in (dep.serve if t.key == "stable" else dep.strategy.candidate)
                     if resolve(pins, e.model) == srv.base]  # fmt: skip
            if len({e.prompts and resolve(pins, e.prompts) for e in group}) > 1:
                _add(
                    out,
                    f"deployment '{dep.name}': the entries on {srv.base.model} in its {t.key} track are one "
                    "vLLM process, which applies one chat template to every name it serves, but they pin "
                    "different prompts (or some none)",
                    "give every entry on that base the same 'prompts', or serve them in separate deployments",
                    group[-1].line,
                )
        names = [n for s in t.servers for n in s.served()]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            _add(
                out,
                f"deployment '{dep.name}' serves the name(s) {', '.join(dupes)} twice in its {t.key} track",
                "give each serve entry a distinct 'name'",
            )
    if len(ts) == 2 and [s.served() for s in ts[0].servers] != [s.served() for s in ts[1].servers]:
        _add(
            out,
            f"deployment '{dep.name}': the candidate must serve the same model names as the stable track "
            f"(stable: {track_names(ts[0])}; candidate: {track_names(ts[1])}), or clients would call names one "
            "track does not have",
            "list the candidate entries in the same order with the same 'name'",
            dep.strategy.line,
        )
    return out


def needs_mlflow(pins: PinsFile, env_name: str) -> bool:
    """Whether pods of the environment download artefacts from MLflow (so reference ConfigMap modelpins-mlflow)."""
    return any(d.artifacts == "init" for d in pins.deployments.values() if d.environment == env_name)


def _mlflow_config_problems(pins: PinsFile) -> list[Problem]:
    problems = []
    by_namespace: dict[str, str] = {}
    for env in pins.environments.values():
        if needs_mlflow(pins, env.name) and not env.tracking_uri:
            problems.append(
                Problem(
                    pins.path,
                    env.line,
                    f"environment '{env.name}' serves deployments whose init containers download models from "
                    f"MLflow, but names no MLflow server (rendered into ConfigMap {MLFLOW_CONFIG})",
                    f"add 'tracking_uri: https://<mlflow host>' to environments.{env.name}",
                )
            )
        if env.tracking_uri and by_namespace.setdefault(env.namespace, env.tracking_uri) != env.tracking_uri:
            problems.append(
                Problem(
                    pins.path,
                    env.line,
                    f"environment '{env.name}' shares namespace {env.namespace} with another environment but names "
                    f"another tracking_uri ({env.tracking_uri} vs {by_namespace[env.namespace]}); one ConfigMap "
                    f"{MLFLOW_CONFIG} per namespace holds it",
                    "give the environments the same tracking_uri, or separate namespaces",
                )
            )
    return problems


def _hosts_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether some request hostname matches both lists (empty: any hostname; `*.d` any name below d)."""
    if not a or not b:
        return True

    def meet(x: str, y: str) -> bool:
        if x.startswith("*.") and y.startswith("*."):
            return x.endswith(y[1:]) or y.endswith(x[1:])
        if x.startswith("*."):
            return y.endswith(x[1:])
        if y.startswith("*."):
            return x.endswith(y[1:])
        return x == y

    return any(meet(x, y) for x in a for y in b)


def _paths_overlap(a: str, b: str) -> bool:
    """Whether some path matches both PathPrefix values (prefixes match whole segments)."""
    sa, sb = [p for p in a.split("/") if p], [p for p in b.split("/") if p]
    n = min(len(sa), len(sb))
    return sa[:n] == sb[:n]


def _route_conflicts(pins: PinsFile) -> list[Problem]:
    """Two HTTPRoutes on one Gateway that match the same requests: Gateway API would give them all to one.

    Routes are bucketed by gateway and first path segment: only routes in one bucket, or under `/`, can meet.
    """
    problems: list[Problem] = []
    buckets: dict[tuple[str, str], list[tuple[Deployment, tuple[str, ...], str]]] = {}
    for dep in pins.deployments.values():
        env = pins.environments.get(dep.environment)
        if not env or not env.gateway:
            continue
        hosts, path = route_target(pins, dep)
        first = next((p for p in path.split("/") if p), "")
        if first:
            others = buckets.get((env.gateway, first), []) + buckets.get((env.gateway, ""), [])
        else:
            others = [o for (gw, _), group in buckets.items() if gw == env.gateway for o in group]
        for other, other_hosts, other_path in sorted(others, key=lambda o: o[0].line):
            if _hosts_overlap(hosts, other_hosts) and _paths_overlap(path, other_path):
                where = lambda h, p: f"{', '.join(h) or 'any hostname'} {p}"  # noqa: E731
                problems.append(
                    Problem(
                        pins.path,
                        (dep.route.line if dep.route else 0) or dep.line,
                        f"deployments '{other.name}' (line {other.line}) and '{dep.name}' would match the same "
                        f"requests on gateway {env.gateway} ({where(other_hosts, other_path)} and "
                        f"{where(hosts, path)}): Gateway API gives a tie to the oldest route, so one of them "
                        "would receive no traffic",
                        f"give '{dep.name}' its own 'route: {{hostnames: [HOST]}}' or 'route: {{path: /PREFIX}}', "
                        "or give the environment 'hostnames' so each deployment gets '<deployment>.<hostname>'",
                    )
                )
        buckets.setdefault((env.gateway, first), []).append((dep, hosts, path))
    return problems
