"""The serving rules an operator relies on: pods that `validate` accepts schedule and start, and what it refuses
comes with `file:line` and a fix that itself validates (each fix below is applied as written, then validated).

No Kubernetes API or GPU runs here: the rendered objects are read as a scheduler and kubelet would read them
(requests, tolerations, flags), and Gateway API precedence is the specification's (tests/serving/gateway.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelpins import layout
from modelpins import pins as pinsmod
from modelpins.integrity.artefact_lock import loads as lock_loads
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.render import resolved
from tests.helpers.cli import run

HERE = Path(__file__).parent
REPO = HERE.parents[1]
DOCKERFILE = (REPO / "deploy" / "Dockerfile").read_bytes()

HEAD = """version: 1
models:
  fraud:
    aliases: {champion: 3, challenger: 4}
  churn:
    aliases: {champion: 7}
  llm-base:
    kind: base
    aliases: {production: 2}
  other-base:
    kind: base
    aliases: {production: 1}
  helpdesk-lora:
    kind: adapter
    base: llm-base@production
    aliases: {champion: 5, challenger: 6}
  billing-lora:
    kind: adapter
    base: llm-base@production
    aliases: {champion: 1}
images:
  registry: registry.example/serving
  base: vllm/vllm-openai@sha256:1d6866b87630d94f5e0cdae55ab5abb4ce0b03fcb84d9d10612f9d518d19d4fd
  classic: registry.example/serving/mlflow-serve@sha256:1111111111111111111111111111111111111111111111111111111111111111
environments:
  prod:
    namespace: ml-prod
    gateway: gateways/public
    hostnames: [models.example]
    tracking_uri: https://mlflow.example
  stg:
    namespace: ml-stg
    gateway: gateways/public
    tracking_uri: https://mlflow.example
deployments:
"""
LLM = """  chat:
    environment: prod
    serve: [llm-base@production]
"""


def write(tmp_path: Path, deployments: str, name: str = "model_pins.yaml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + deployments)
    return path


def pods(path: Path, env: str = "prod") -> dict[str, dict[str, Any]]:
    objs = resolved(pinsmod.load(path), ImageLock(), DOCKERFILE, env)
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objs if o["kind"] == "Deployment"}


def kinds(path: Path, env: str = "prod") -> list[dict[str, Any]]:
    return resolved(pinsmod.load(path), ImageLock(), DOCKERFILE, env)


PROBLEM = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+): (?P<message>.*)\n  fix: (?P<fix>.*)$", re.MULTILINE)


def problems(path: Path) -> list[re.Match[str]]:
    result = run("--pins", path, "validate", "--offline")
    assert result.returncode == 2, result.stdout + result.stderr
    found = list(PROBLEM.finditer(result.stderr))
    assert found, result.stderr
    for p in found:
        assert p["file"] == str(path), result.stderr
    return found


def apply_fixes(path: Path, found: list[re.Match[str]]) -> None:
    """Apply each fix as written: every quoted `key: value` in it is set on the deployment the problem's line is in."""
    data = yaml.safe_load(path.read_text())
    root = yaml.compose(path.read_text())
    assert isinstance(root, yaml.MappingNode)
    deployments = next(v for k, v in root.value if k.value == "deployments")
    starts = sorted((k.start_mark.line + 1, k.value) for k, _ in deployments.value)
    for p in found:
        name = [n for line, n in starts if line <= int(p["line"])][-1]
        snippets = re.findall(r"'([^']+)'", p["fix"])
        assert snippets, p["fix"]
        for snippet in snippets:
            fix = yaml.safe_load(snippet)
            assert isinstance(fix, dict), snippet
            data["deployments"][name].update(fix)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def refused_then_fixed(path: Path, *needles: str) -> list[re.Match[str]]:
    """validate exits 2 naming `needles` at file:line; applying the fixes it gives, the file validates."""
    found = problems(path)
    text = "\n".join(p["message"] + " " + p["fix"] for p in found)
    for needle in needles:
        assert needle in text, text
    apply_fixes(path, found)
    result = run("--pins", path, "validate", "--offline")
    assert result.returncode == 0, path.read_text() + result.stderr
    return found


def container(pod: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return pod["containers"][i]


def gpus(c: dict[str, Any]) -> int:
    return int(c["resources"]["limits"].get("nvidia.com/gpu", 0))


# GPU --------------------------------------------------------------------------------------------------------


def test_an_llm_without_gpu_gets_one_gpu_and_the_toleration(tmp_path: Path) -> None:
    pod = pods(write(tmp_path, LLM))["chat"]

    assert gpus(container(pod)) == 1
    assert container(pod)["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert container(pod)["args"][container(pod)["args"].index("--tensor-parallel-size") + 1] == "1"


def test_an_llm_with_gpu_0_is_refused_and_the_fix_validates(tmp_path: Path) -> None:
    path = write(tmp_path, LLM + "    resources: {gpu: 0}\n")

    (p,) = refused_then_fixed(path, "needs a GPU", "gpu: 1")
    assert int(p["line"]) == len((HEAD + LLM).splitlines()) + 1
    assert gpus(container(pods(path)["chat"])) == 1


def test_tensor_parallel_size_is_its_own_field_and_must_match_the_gpus(tmp_path: Path) -> None:
    path = write(tmp_path, LLM + "    resources: {gpu: 1}\n    tensor_parallel_size: 4\n")

    refused_then_fixed(path, "tensor_parallel_size: 4", "gpu: 4")
    c = container(pods(path)["chat"])
    assert gpus(c) == 4
    assert c["args"][c["args"].index("--tensor-parallel-size") + 1] == "4"


def test_tensor_parallel_size_alone_sizes_the_pod(tmp_path: Path) -> None:
    c = container(pods(write(tmp_path, LLM + "    tensor_parallel_size: 2\n"))["chat"])

    assert gpus(c) == 2
    assert c["args"][c["args"].index("--tensor-parallel-size") + 1] == "2"


# Flags modelpins renders -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "flag", "field"),
    [
        ('[--port, "9999", --max-model-len, "8192"]', "--port", "'port'"),
        ("[--port=9999]", "--port", "'port'"),
        ("[--served-model-name, other]", "--served-model-name", "'name'"),
        ('[--tensor-parallel-size, "4"]', "--tensor-parallel-size", "'tensor_parallel_size'"),
        ('[--max-loras, "8"]', "--max-loras", "adapters"),
        ('[--max-lora-rank, "64"]', "--max-lora-rank", "model_pins.lock"),
    ],
)
def test_vllm_args_cannot_override_a_rendered_flag(tmp_path: Path, args: str, flag: str, field: str) -> None:
    path = write(tmp_path, LLM + f"    vllm_args: {args}\n")

    (p,) = refused_then_fixed(path, flag, field)
    assert int(p["line"]) == len((HEAD + LLM).splitlines()) + 1
    c = container(pods(path)["chat"])
    assert c["args"].count("--port") == 1
    if flag == "--port" and "=" not in args:
        assert "--max-model-len" in c["args"]  # the other flags are kept
    if flag == "--tensor-parallel-size":
        assert gpus(c) == 4


# Resources per pod -------------------------------------------------------------------------------------------


def test_a_bundle_of_two_vllm_processes_shares_the_pods_gpus_cpu_and_memory(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  bundle:\n    environment: prod\n    serve: [llm-base@production, other-base@production]\n"
        '    resources: {gpu: 2, memory: 64Gi, cpu: "8"}\n',
    )
    pod = pods(path)["bundle"]

    assert [gpus(c) for c in pod["containers"]] == [1, 1]  # 2 per pod, not 2 per container
    assert [c["resources"]["limits"]["cpu"] for c in pod["containers"]] == ["4000m", "4000m"]
    assert [c["resources"]["limits"]["memory"] for c in pod["containers"]] == ["32768Mi", "32768Mi"]


def test_a_bundle_without_gpu_gets_one_per_vllm_process_and_an_odd_count_is_refused(tmp_path: Path) -> None:
    bundle = "  bundle:\n    environment: prod\n    serve: [llm-base@production, other-base@production]\n"
    assert [gpus(c) for c in pods(write(tmp_path, bundle))["bundle"]["containers"]] == [1, 1]

    path = write(tmp_path, bundle + "    resources: {gpu: 3}\n", "odd.yaml")
    refused_then_fixed(path, "2 vLLM process(es)", "gpu: 2")


def test_a_bundle_of_two_vllm_processes_with_one_gpu_is_refused_and_the_fix_validates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  bundle:\n    environment: prod\n    serve: [llm-base@production, other-base@production]\n"
        "    resources: {gpu: 1}\n",
    )
    (p,) = refused_then_fixed(path, "2 vLLM processes per pod, each needing at least 1 GPU", "gpu: 2")

    assert p["line"] == "39"  # the 'resources' line
    assert [gpus(c) for c in pods(path)["bundle"]["containers"]] == [1, 1]


def test_classic_containers_split_the_pods_gpus_in_whole_numbers_or_are_refused(tmp_path: Path) -> None:
    tabular = "  tabular:\n    environment: prod\n    serve: [fraud@champion, churn@champion]\n"
    path = write(tmp_path, tabular + "    resources: {gpu: 1}\n")

    refused_then_fixed(path, "2 MLflow model server containers", "1 does not divide by 2", "gpu: 2")
    assert [gpus(c) for c in pods(path)["tabular"]["containers"]] == [1, 1]  # the GPUs written, none lost


def test_a_gpu_for_classic_models_only_is_a_warning_whose_fix_removes_it(tmp_path: Path) -> None:
    path = write(tmp_path, "  tabular:\n    environment: prod\n    serve: [fraud@champion]\n    resources: {gpu: 1}\n")

    result = run("--pins", path, "validate", "--offline")

    assert result.returncode == 0, result.stderr
    (warning,) = re.findall(rf"^warning: ({re.escape(str(path))}:39: deployment 'tabular' .*\n  fix: .*)$",
                            result.stderr, re.MULTILINE)  # fmt: skip
    assert "serves classic models only, yet its pods request 'gpu: 1'" in warning
    assert "GPU nodes that no container uses" in warning
    (found,) = PROBLEM.finditer(warning)
    apply_fixes(path, [found])
    again = run("--pins", path, "validate", "--offline")
    assert again.returncode == 0 and "tabular" not in again.stderr, again.stderr
    assert gpus(container(pods(path)["tabular"])) == 0


def test_in_a_mixed_pod_the_classic_model_takes_no_gpu(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  mixed:\n    environment: prod\n    serve: [llm-base@production, fraud@champion]\n"
        '    resources: {gpu: 1, memory: 32Gi, cpu: "4"}\n',
    )
    vllm, mlflow = pods(path)["mixed"]["containers"]

    assert (vllm["name"], gpus(vllm)) == ("vllm-1", 1)
    assert (mlflow["name"], gpus(mlflow)) == ("mlflow-2", 0)


def test_a_split_too_small_for_each_container_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  tabular:\n    environment: prod\n    serve: [fraud@champion, churn@champion]\n"
        '    resources: {memory: 1Mi, cpu: "1m"}\n',
    )
    refused_then_fixed(path, "too little for each")


# LoRA --------------------------------------------------------------------------------------------------------


def test_max_loras_counts_the_adapters_and_max_lora_rank_holds_the_largest_locked_r(tmp_path: Path) -> None:
    golden = HERE / "golden"
    from modelpins.commands.serving import locked_artefacts

    objs = resolved(pinsmod.load(golden / "model_pins.yaml"), ImageLock(), DOCKERFILE, "prod",
                    locked_artefacts(golden / "model_pins.yaml"))  # fmt: skip
    stable = next(o for o in objs if o["metadata"]["name"] == "helpdesk-stable")
    args = stable["spec"]["template"]["spec"]["containers"][0]["args"]

    assert args[args.index("--max-loras") + 1] == "2"  # helpdesk and billing, on one base
    # model_pins.lock records r = 48 and 16; vLLM accepts 1, 8, 16, 32, 64, ...: the smallest holding 48
    assert args[args.index("--max-lora-rank") + 1] == "64"


def test_the_lock_records_each_adapters_rank_and_reads_it_back() -> None:
    assert layout.lora_rank(b'{"r": 32, "lora_alpha": 16}') == 32
    assert layout.lora_rank(b'{"lora_alpha": 16}') == 0
    assert layout.lora_rank(b"not json") == 0
    lock = lock_loads(
        'version: 1\nmodels:\n  "a":\n    1: {run_id: "r", source: "s", digest: "d", files: 1, bytes: 2, '
        'flavor: "none", path: ".", rank: 32}\n',
        "model_pins.lock",
    )
    entry = lock.entries[("a", 1)]
    assert entry.layout is not None and entry.layout.rank == 32
    assert "rank: 32}" in entry.render()


def test_an_adapter_served_on_another_base_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  chat:\n    environment: prod\n    serve:\n"
        "      - {model: other-base@production, adapter: helpdesk-lora@champion, name: helpdesk}\n",
    )
    (p,) = problems(path)
    assert "trained on 'llm-base', not 'other-base'" in p["message"]
    assert "serve it on 'llm-base@production'" in p["fix"]


# Non-root runtime ---------------------------------------------------------------------------------------------


def test_home_and_every_cache_are_on_the_writable_home_emptydir(tmp_path: Path) -> None:
    pod = pods(write(tmp_path, LLM))["chat"]
    home = next(m["mountPath"] for m in container(pod)["volumeMounts"] if m["name"] == "home")
    env = {e["name"]: e["value"] for e in container(pod)["env"]}

    assert {"name": "home", "emptyDir": {"sizeLimit": "4096Mi"}} in pod["volumes"]
    for var in ("HOME", "XDG_CACHE_HOME", "HF_HOME", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "VLLM_CACHE_ROOT"):
        assert env[var].startswith(home), var
    assert env["USER"]  # getpass.getuser() without a passwd entry for UID 10001


# Cluster policy ----------------------------------------------------------------------------------------------


def test_namespaces_enforce_the_restricted_pod_security_standard(tmp_path: Path) -> None:
    ns = kinds(write(tmp_path, LLM))[0]

    assert ns["kind"] == "Namespace"
    for mode in ("enforce", "audit", "warn"):
        assert ns["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_the_network_policy_admits_only_the_gateways_namespace(tmp_path: Path) -> None:
    policy = next(o for o in kinds(write(tmp_path, LLM)) if o["kind"] == "NetworkPolicy")

    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateways"}}}]


def test_no_pdb_for_a_single_pod_and_one_for_more(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        LLM + "  many:\n    environment: prod\n    serve: [fraud@champion]\n    replicas: 2\n",
    )
    budgets = [o["metadata"]["name"] for o in kinds(path) if o["kind"] == "PodDisruptionBudget"]

    assert budgets == ["many"]


# Pull credentials --------------------------------------------------------------------------------------------


def test_pull_secret_and_service_account_reach_every_pod(tmp_path: Path) -> None:
    text = HEAD.replace(
        "    tracking_uri: https://mlflow.example\n  stg:",
        "    tracking_uri: https://mlflow.example\n    pull_secret: registry-pull\n    service_account: model-server\n"
        "  stg:",
    )
    path = tmp_path / "model_pins.yaml"
    path.write_text(text + LLM)

    pod = pods(path)["chat"]
    assert pod["imagePullSecrets"] == [{"name": "registry-pull"}]
    assert pod["serviceAccountName"] == "model-server"
    assert pod["automountServiceAccountToken"] is False


# Canary capacity and affinity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "weight", "stable", "candidate"), [(2, 50, 1, 1), (4, 25, 3, 1), (10, 10, 9, 1), (3, 50, 2, 2)]
)
def test_canary_replicas_follow_the_weights(
    tmp_path: Path, replicas: int, weight: int, stable: int, candidate: int
) -> None:
    path = write(
        tmp_path,
        "  split:\n    environment: prod\n    serve: [fraud@champion]\n"
        f"    strategy: {{type: ab, candidate: [fraud@challenger], weight: {weight}}}\n    replicas: {replicas}\n",
    )
    objs = {o["metadata"]["name"]: o for o in kinds(path) if o["kind"] == "Deployment"}

    assert objs["split-stable"]["spec"]["replicas"] == stable
    assert objs["split-candidate"]["spec"]["replicas"] == candidate
    per_pod = ((100 - weight) / stable, weight / candidate)
    assert abs(per_pod[0] - per_pod[1]) <= 100 / replicas  # equal load per pod, within one pod's share


@pytest.mark.parametrize("kind", ["cookie", "header"])
def test_affinity_keeps_a_client_on_one_track(tmp_path: Path, kind: str) -> None:
    path = write(
        tmp_path,
        "  split:\n    environment: prod\n    serve: [fraud@champion]\n"
        f"    strategy: {{type: ab, candidate: [fraud@challenger], weight: 50, affinity: {{{kind}: X-Session}}}}\n",
    )
    route = next(o for o in kinds(path) if o["kind"] == "HTTPRoute")

    assert route["spec"]["rules"][0]["sessionPersistence"] == {"sessionName": "X-Session", "type": kind.capitalize()}


# Ties ----------------------------------------------------------------------------------------------------------

TIES = {
    "same hostname, same path": "    route: {hostnames: [a.example]}\n",
    "no hostname on either, same path": "    route: {path: /x}\n",
    "same wildcard hostname, same path": "    route: {hostnames: ['*.example'], path: /x}\n",
}
NOT_TIES = {
    # the staging route without hostnames serves every host the production routes do not name
    "no hostname against hostnames, same path": (
        "stg", "    route: {path: /x}\n", "prod", "    route: {hostnames: [a.example], path: /x}\n"
    ),
    "exact hostname against a wildcard covering it": (
        "prod", "    route: {hostnames: ['*.example']}\n", "prod", "    route: {hostnames: [a.example]}\n"
    ),
    "nested path prefixes on one hostname": (
        "prod", "    route: {hostnames: [a.example], path: /x}\n",
        "prod", "    route: {hostnames: [a.example], path: /x/y}\n",
    ),
    "default hostname against a path on the environment's hostnames": ("prod", "", "prod", "    route: {path: /two}\n"),
}  # fmt: skip


def two(env_a: str, route_a: str, env_b: str, route_b: str) -> str:
    return (
        f"  one:\n    environment: {env_a}\n    serve: [fraud@champion]\n{route_a}"
        f"  two:\n    environment: {env_b}\n    serve: [churn@champion]\n{route_b}"
    )


@pytest.mark.parametrize("case", sorted(TIES))
def test_a_tie_is_refused_and_the_fix_validates(tmp_path: Path, case: str) -> None:
    route, env = TIES[case], "stg" if "no hostname" in case else "prod"
    path = write(tmp_path, two(env, route, env, route))

    (p,) = refused_then_fixed(path, "equal precedence", "route:")
    assert int(p["line"]) == (HEAD + two(env, route, env, "")).count("\n") + 1


@pytest.mark.parametrize("case", sorted(NOT_TIES))
def test_what_only_looks_like_a_tie_is_valid(tmp_path: Path, case: str) -> None:
    path = write(tmp_path, two(*NOT_TIES[case]))

    result = run("--pins", path, "validate", "--offline")
    assert result.returncode == 0, result.stderr


def test_a_deployment_with_hostnames_is_never_told_to_add_hostnames(tmp_path: Path) -> None:
    route = "    route: {hostnames: [a.example]}\n"
    path = write(tmp_path, two("prod", route, "prod", route))

    (p,) = refused_then_fixed(path, "path: /two")
    assert 'hostnames: ["a.example"]' in p["fix"]


# Images ------------------------------------------------------------------------------------------------------


def test_the_committed_example_pins_a_real_classic_base_and_its_pods_name_the_image_build_makes() -> None:
    from modelpins.serving.image_refs import classic_tag

    text = (REPO / "model_pins.yaml").read_text()
    pins = pinsmod.load(REPO / "model_pins.yaml")
    base = pins.images.classic_base
    assert "0" * 64 not in text and not pins.images.classic
    assert base and re.fullmatch(r"python:3\.\d+-slim@sha256:[0-9a-f]{64}", base) and set(base[-64:]) != {"0"}

    deployment = yaml.safe_load((REPO / "manifests/base/credit-risk/deployment-credit-risk-blue.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    tag = classic_tag(base, (REPO / "deploy" / "Dockerfile.mlflow").read_bytes())  # what `modelpins build` tags
    assert {c["image"] for c in pod["containers"] + pod["initContainers"]} == {
        f"{pins.images.registry}/mlflow-serve:{tag}"
    }


def test_a_baked_pod_cannot_mix_vllm_and_a_classic_model(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  mixed:\n    environment: prod\n    serve: [llm-base@production, fraud@champion]\n    artifacts: image\n",
    )
    refused_then_fixed(path, "different images", "artifacts: init")
