"""The checks render and build make before anything is written: deployments, routes, MLflow settings. Pure."""

from __future__ import annotations

import json

from modelpins.errors import InvalidPins, Problem
from modelpins.pins import Deployment, PinsFile
from modelpins.serving.shares import is_vllm, pod_gpus, quantity, vllm_processes
from modelpins.serving.tracks import MAX_NAME, MLFLOW_CONFIG, resolve, route_target, track_names, tracks

# vLLM flags modelpins renders from other fields: given in vllm_args as well, vLLM would take the last one and
# the probes, Service, routes or GPU requests would no longer match the server. flag -> where to set it.
RENDERED_FLAGS = {
    "--port": "the deployment's 'port' (probes, Service, NetworkPolicy and routes follow it)",
    "--served-model-name": "each serve entry's 'name'",
    "--tensor-parallel-size": "the deployment's 'tensor_parallel_size'",
    "-tp": "the deployment's 'tensor_parallel_size'",
    "--enable-lora": "a serve entry's 'adapter'",
    "--lora-modules": "a serve entry's 'adapter'",
    "--max-loras": "the adapters listed under 'serve' (one slot per adapter)",
    "--max-lora-rank": "model_pins.lock ('modelpins lock' records each adapter's r from its adapter_config.json)",
    "--chat-template": "a serve entry's 'prompts'",
    "--tokenizer": "model_pins.lock ('modelpins lock' records where each base's tokenizer is)",
    "--model": "a serve entry's 'model'",
}
BOOLEAN_FLAGS = {"--enable-lora"}


def check(pins: PinsFile) -> None:
    """Serving rules the schema alone cannot see; InvalidPins with file:line and the fix."""
    problems: list[Problem] = []
    for dep in pins.deployments.values():
        for rule in (_placement, _kinds, _adapter_bases, _tracks, _gpus, _split, _vllm_args, _baked):
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


def _flow(value: object) -> str:
    """`value` as YAML flow text (JSON is YAML): what a fix tells the user to write."""
    return json.dumps(value)


def _resources_fix(dep: Deployment, gpu: int) -> str:
    res = dep.resources
    return f"'resources: {{gpu: {gpu}, memory: {_flow(res.memory)}, cpu: {_flow(res.cpu)}}}'"


def _gpus(pins: PinsFile, dep: Deployment) -> Found:
    """vLLM runs on GPUs: each vLLM process of a pod gets the same whole number of them, its tensor parallel size.
    A pod of classic models only gets GPUs when `gpu` is given, split evenly between its containers."""
    out: Found = []
    n, gpus, tp = vllm_processes(pins, dep), pod_gpus(pins, dep), dep.tensor_parallel_size
    line = dep.resources_line
    if not n:
        if tp:
            _add(out, f"deployment '{dep.name}' sets 'tensor_parallel_size' but serves no LLM", "remove it")
        containers = max(len(t.servers) for t in tracks(pins, dep))
        if gpus % containers:
            _add(
                out,
                f"deployment '{dep.name}' runs {containers} MLflow model server containers per pod, which share "
                f"its 'gpu: {gpus}' evenly, but a GPU is not shared between containers and {gpus} does not divide "
                f"by {containers}",
                f"write {_resources_fix(dep, containers * max(1, gpus // containers))} (a whole number for each "
                "container), or no gpu when the models do not use one",
                line,
            )
        return out
    want = n * (tp or max(1, gpus // n))
    if gpus == 0:
        _add(
            out,
            f"deployment '{dep.name}' serves an LLM with vLLM, which needs a GPU, but sets 'gpu: 0'",
            f"write {_resources_fix(dep, want)}",
            line,
        )
    elif gpus < n:
        _add(
            out,
            f"deployment '{dep.name}' runs {n} vLLM processes per pod, each needing at least 1 GPU of its own "
            f"(a GPU is not shared between containers), but its pods get 'gpu: {gpus}'",
            f"write {_resources_fix(dep, want)}, or serve the models in separate deployments",
            line,
        )
    elif gpus != want or gpus % n:
        each = f"{tp} GPU(s) ('tensor_parallel_size: {tp}')" if tp else "the same whole number of GPUs"
        _add(
            out,
            f"deployment '{dep.name}' runs {n} vLLM process(es) per pod, each on {each}, "
            f"but its pods get 'gpu: {gpus}'",
            f"write {_resources_fix(dep, want)}",
            line,
        )
    return out


def warnings(pins: PinsFile) -> list[Problem]:
    """What `validate` accepts but an operator should look at: GPUs requested for pods of classic models only."""
    found = []
    for dep in pins.deployments.values():
        gpus = pod_gpus(pins, dep)
        if gpus and not vllm_processes(pins, dep):
            found.append(
                Problem(
                    pins.path,
                    dep.resources_line or dep.line,
                    f"deployment '{dep.name}' serves classic models only, yet its pods request 'gpu: {gpus}': "
                    "MLflow's model server uses a GPU only when the model's flavor library is built for CUDA "
                    "(torch or tensorflow from images.classic or the REQUIREMENTS of deploy/Dockerfile.mlflow; "
                    "scikit-learn does not), and otherwise the pods hold GPU nodes that no container uses",
                    f"write {_resources_fix(dep, 0)} unless the models run on CUDA",
                )
            )
    return found


def _split(pins: PinsFile, dep: Deployment) -> Found:
    """Each container's share of the pod's CPU and memory is at least 1m and 1Mi."""
    out: Found = []
    n = max(len(t.servers) for t in tracks(pins, dep))
    res = dep.resources
    if n > 1 and (quantity(res.cpu) * 1000 < n or quantity(res.memory) < n * 2**20):
        _add(
            out,
            f"deployment '{dep.name}' runs {n} containers per pod, which share its cpu {res.cpu} and memory "
            f"{res.memory}: too little for each",
            f"write 'resources: {{memory: {_flow(f'{n}Gi')}, cpu: {_flow(str(n))}}}' or more",
            dep.resources_line,
        )
    return out


def _baked(pins: PinsFile, dep: Deployment) -> Found:
    """A baked pod has one image: vLLM's for LLMs, MLflow's model server's for classic models, not both."""
    out: Found = []
    mixed = any(len({is_vllm(pins, s) for s in t.servers}) > 1 for t in tracks(pins, dep))
    if dep.artifacts == "image" and mixed:
        _add(
            out,
            f"deployment '{dep.name}' bakes LLMs and classic models into one image ('artifacts: image'), but vLLM "
            "and MLflow's model server are built on different images",
            "write 'artifacts: init' (each runtime's image, the models fetched at start), or serve them in "
            "separate deployments",
        )
    return out


def _vllm_args(pins: PinsFile, dep: Deployment) -> Found:
    """vllm_args adds flags; it cannot replace the ones modelpins renders from other fields."""
    out: Found = []
    args, keep, i = list(dep.vllm_args), [], 0
    found: list[tuple[str, str | None]] = []
    while i < len(args):
        flag, eq, value = args[i].partition("=")
        if flag not in RENDERED_FLAGS:
            keep.append(args[i])
            i += 1
            continue
        takes = not eq and flag not in BOOLEAN_FLAGS and i + 1 < len(args) and not args[i + 1].startswith("-")
        found.append((flag, value if eq else (args[i + 1] if takes else None)))
        i += 2 if takes else 1
    extra = ""
    port = next((v for f, v in found if f == "--port" and v and v.isdigit()), None)
    if port and 1 <= int(port) <= 65535:
        extra = f" and 'port: {int(port)}'"
    size = next((v for f, v in found if f in ("--tensor-parallel-size", "-tp") and v and v.isdigit()), None)
    if size and 1 <= int(size) <= 64:
        gpus = vllm_processes(pins, dep) * int(size)
        extra += f" and 'tensor_parallel_size: {int(size)}' and {_resources_fix(dep, gpus)}"
    for flag, _ in found:
        _add(
            out,
            f"deployment '{dep.name}': vllm_args sets {flag}, which modelpins renders from {RENDERED_FLAGS[flag]}; "
            "vLLM would take the later one and the pods would no longer match what is rendered around them",
            f"write 'vllm_args: {_flow(keep)}'{extra}",
            dep.vllm_args_line,
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


def _segments(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


def rule_paths(pins: PinsFile, dep: Deployment, path: str | None = None) -> tuple[tuple[str, ...], ...]:
    """The PathPrefix of each rule of the deployment's HTTPRoute, as segments (a bundle has one per server)."""
    prefix = _segments(path if path is not None else route_target(pins, dep)[1])
    servers = tracks(pins, dep)[0].servers
    if len(servers) == 1:
        return (prefix,)
    return tuple((*prefix, s.served()[0]) for s in servers)


Target = tuple[frozenset[str], tuple[tuple[str, ...], ...]]  # (hostnames, each rule's path segments)


def ties(a: Target, b: Target) -> bool:
    """Whether some request matches a rule of each route with equal Gateway API precedence.

    Precedence: the most specific matching hostname first (an exact name, then the longest wildcard, then a
    route without hostnames), then the longest path prefix, then method, headers and query parameters (rendered
    routes match on none of these). So two routes tie only where they list the same hostname (or both list
    none) and have a rule with the same path prefix; where one is more specific, each still serves its part.
    """
    (hosts_a, paths_a), (hosts_b, paths_b) = a, b
    same_host = bool(hosts_a & hosts_b) or (not hosts_a and not hosts_b)
    return same_host and bool(set(paths_a) & set(paths_b))


def _target(pins: PinsFile, dep: Deployment) -> Target:
    return frozenset(route_target(pins, dep)[0]), rule_paths(pins, dep)


def _untied_fix(pins: PinsFile, dep: Deployment, taken: list[Target]) -> str:
    """A `route:` for `dep` that ties with none of `taken`: its own path prefix, its own hostnames kept."""
    own = list(dep.route.hostnames) if dep.route else []
    hosts = frozenset(own or pins.environments[dep.environment].hostnames)
    for n in range(1, 100):
        path = f"/{dep.name}" + (f"-{n}" if n > 1 else "")
        if not any(ties((hosts, rule_paths(pins, dep, path)), t) for t in taken):
            break
    route = f"{{hostnames: {_flow(own)}, path: {path}}}" if own else f"{{path: {path}}}"
    return f"write 'route: {route}' (or any path prefix or hostname no other deployment on the gateway has)"


def _where(pins: PinsFile, dep: Deployment) -> str:
    hosts, path = route_target(pins, dep)
    return f"{', '.join(hosts) or 'any hostname'} {path}"


def _route_conflicts(pins: PinsFile) -> list[Problem]:
    """Two HTTPRoutes on one Gateway that tie for some request: Gateway API would give it to the older one."""
    problems: list[Problem] = []
    seen: dict[str, list[tuple[Deployment, Target]]] = {}
    for dep in pins.deployments.values():
        env = pins.environments.get(dep.environment)
        if not env or not env.gateway:
            continue
        mine = _target(pins, dep)
        others = seen.setdefault(env.gateway, [])
        for other, theirs in others:
            if ties(mine, theirs):
                problems.append(
                    Problem(
                        pins.path,
                        (dep.route.line if dep.route else 0) or dep.line,
                        f"deployments '{other.name}' (line {other.line}) and '{dep.name}' would match the same "
                        f"requests with equal precedence on gateway {env.gateway} ({_where(pins, other)} and "
                        f"{_where(pins, dep)}): Gateway API gives a tie to the oldest route, so one of them "
                        "would receive no traffic",
                        _untied_fix(pins, dep, [t for _, t in others]),
                    )
                )
                break
        others.append((dep, mine))
    return problems
