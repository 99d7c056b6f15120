"""Artefacts the runtimes can load: real small artefacts logged to the real MLflow server, locked, rendered,
downloaded with the init containers' own command, and loaded from the paths the rendered pods give their runtime.

- a tiny Hugging Face model in MLflow's transformers-flavor layout (MLmodel, `model/config.json` and safetensors
  weights written with numpy, a `tokenizers` tokenizer under `components/tokenizer/`): loaded with transformers'
  AutoConfig and AutoTokenizer from the `vllm serve` model and `--tokenizer` arguments;
- a PEFT LoRA adapter (`peft/adapter_config.json` and `peft/adapter_model.safetensors`), checked in the test venv
  by transformers' `find_adapter_config_file` (how transformers recognises a PEFT directory), the safetensors
  reader and the LoRA shapes against `r` and the base's hidden size; and loaded by peft itself
  (`PeftConfig.from_pretrained`, `load_peft_weights`) in a separate Python with peft and a CPU build of torch
  (conftest's `peft_python`: torch is kept out of the hashed lock, since PyPI's torch is a multi-GB CUDA build;
  skipped only where no local CPU wheel of torch is on disk). vLLM's own LoRA loader is not run (it needs a GPU);
- two versions of a chat template (kind: prompts): the pod's `--chat-template` is the pinned version's file;
- a scikit-learn model logged with mlflow.sklearn: the rendered `mlflow models serve` command, run on this
  machine (not in a container: the MLflow server image cannot be made here without pulling a base image),
  answers a real POST /invocations.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from devkit.devserver import free_port
from modelpins.serving.tracks import MODELS_DIR
from tests.helpers.cli import run
from tests.helpers.seed import log_sklearn
from tests.helpers.store import remove_tree, run_files

pytest.importorskip("transformers")
pytest.importorskip("safetensors")

REPO = Path(__file__).resolve().parents[2]
HIDDEN, RANK, WORDS = 16, 4, ["<s>", "</s>", "<unk>", "hello", "world", "support", "ticket"]
TRANSFORMERS_MLMODEL = {
    "artifact_path": "model",
    "flavors": {
        "python_function": {"loader_module": "mlflow.transformers", "python_version": "3.11.7"},
        "transformers": {
            "task": "text-generation",
            "instance_type": "TextGenerationPipeline",
            "pipeline_model_type": "LlamaForCausalLM",
            "source_model_name": "tiny-llama",
            "framework": "pt",
            "components": ["tokenizer"],
            "tokenizer_type": "PreTrainedTokenizerFast",
            "transformers_version": "4.57.0",
            "model_binary": "model",
        },
    },
}


def write_base(root: Path) -> None:
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, models, pre_tokenizers

    (root / "model").mkdir(parents=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN,
        "intermediate_size": 32, "num_attention_heads": 2, "num_key_value_heads": 2, "num_hidden_layers": 1,
        "vocab_size": len(WORDS), "max_position_embeddings": 64, "torch_dtype": "float32",
    }  # fmt: skip
    (root / "model" / "config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(0)
    weights = {
        "model.embed_tokens.weight": rng.standard_normal((len(WORDS), HIDDEN), dtype=np.float32),
        "model.layers.0.self_attn.q_proj.weight": rng.standard_normal((HIDDEN, HIDDEN), dtype=np.float32),
        "model.layers.0.self_attn.v_proj.weight": rng.standard_normal((HIDDEN, HIDDEN), dtype=np.float32),
        "lm_head.weight": rng.standard_normal((len(WORDS), HIDDEN), dtype=np.float32),
    }
    save_file(weights, str(root / "model" / "model.safetensors"), metadata={"format": "pt"})
    tok_dir = root / "components" / "tokenizer"
    tok_dir.mkdir(parents=True)
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tok_dir / "tokenizer.json"))
    (tok_dir / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "model_max_length": 64,
            }
        )  # fmt: skip
    )
    (root / "MLmodel").write_text(yaml.safe_dump(TRANSFORMERS_MLMODEL))


def write_adapter(root: Path) -> None:
    from safetensors.numpy import save_file

    (root / "peft").mkdir(parents=True)
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "tiny-llama", "r": RANK,
        "lora_alpha": 8, "lora_dropout": 0.0, "bias": "none", "target_modules": ["q_proj", "v_proj"],
        "inference_mode": True, "fan_in_fan_out": False,
    }  # fmt: skip
    (root / "peft" / "adapter_config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(1)
    weights = {}
    for module in ("q_proj", "v_proj"):
        prefix = f"base_model.model.model.layers.0.self_attn.{module}"
        weights[f"{prefix}.lora_A.weight"] = rng.standard_normal((RANK, HIDDEN), dtype=np.float32)
        weights[f"{prefix}.lora_B.weight"] = np.zeros((HIDDEN, RANK), dtype=np.float32)
    save_file(weights, str(root / "peft" / "adapter_model.safetensors"), metadata={"format": "pt"})
    mlmodel = json.loads(json.dumps(TRANSFORMERS_MLMODEL))
    mlmodel["flavors"]["transformers"]["peft_adapter_dir"] = "peft"
    del mlmodel["flavors"]["transformers"]["model_binary"]
    (root / "MLmodel").write_text(yaml.safe_dump(mlmodel))


def log_version(client: Any, name: str, fill: Any) -> None:
    """One run logging the directory `fill` writes, registered as the next version of `name`."""
    experiment = client.get_experiment_by_name("modelpins-artefacts")
    exp_id = experiment.experiment_id if experiment else client.create_experiment("modelpins-artefacts")
    run_ = client.create_run(exp_id)
    with tempfile.TemporaryDirectory() as tmp:
        fill(Path(tmp))
        client.log_artifacts(run_.info.run_id, tmp, "model")
    client.set_terminated(run_.info.run_id)
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run_.info.run_id}/model", run_id=run_.info.run_id)


PINS = """version: 1
models:
  {p}base:
    kind: base
    aliases: {{prod: 1}}
  {p}lora:
    kind: adapter
    base: {p}base@prod
    aliases: {{champion: 1}}
  {p}prompts:
    kind: prompts
    aliases: {{champion: 2}}
  {p}scorer:
    aliases: {{champion: 1}}
images:
  registry: registry.example/serving
  base: vllm/vllm-openai@sha256:{d}
  classic: registry.example/serving/mlflow-serve@sha256:{d}
environments:
  prod:
    namespace: ml-prod
    gateway: gateways/public
    hostnames: [models.example]
    tracking_uri: {uri}
deployments:
  chat:
    environment: prod
    serve:
      - {{model: {p}base@prod, adapter: {p}lora@champion, prompts: {p}prompts@champion, name: assistant}}
  scoring:
    environment: prod
    serve: [{p}scorer@champion]
"""


@pytest.fixture(scope="module")
def project(mlflow_server, client, tmp_path_factory):
    prefix = f"a{os.getpid()}-{int(time.time() * 1000) % 10**8}-"
    log_version(client, f"{prefix}base", write_base)
    log_version(client, f"{prefix}lora", write_adapter)
    for text in ("{{ 'v1' }}{% for m in messages %}{{ m.content }}{% endfor %}",
                 "{{ 'v2' }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}"):  # fmt: skip
        log_version(client, f"{prefix}prompts", lambda root, t=text: (root / "chat_template.jinja").write_text(t))
    model, x = log_sklearn(mlflow_server.url, f"{prefix}scorer")
    root = tmp_path_factory.mktemp("artefacts")
    (root / "deploy").mkdir()
    (root / "deploy" / "Dockerfile").write_bytes((REPO / "deploy" / "Dockerfile").read_bytes())
    pins = root / "model_pins.yaml"
    pins.write_text(PINS.format(p=prefix, d="1" * 64, uri=mlflow_server.url))
    env = {"MLFLOW_TRACKING_URI": mlflow_server.url}
    locked = run("--pins", pins, "lock", env=env)
    assert locked.returncode == 0, locked.stderr
    rendered = run("--pins", pins, "render", "--out", root / "manifests")
    assert rendered.returncode == 0, rendered.stderr
    return {"prefix": prefix, "root": root, "pins": pins, "uri": mlflow_server.url, "sklearn": (model, x)}


def pod(project: dict[str, Any], deployment: str) -> dict[str, Any]:
    path = project["root"] / "manifests" / "base" / deployment / f"deployment-{deployment}.yaml"
    obj = yaml.safe_load(path.read_text())
    return obj["spec"]["template"]["spec"]


def fetch(uri: str, init: dict[str, Any], models_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run one init container's command and args as the pod would, with /models mapped to `models_dir`.
    The image's `python3` (with mlflow) is this venv's: its bin directory comes first on PATH."""
    argv = [a.replace(MODELS_DIR, str(models_dir)) for a in init["command"] + init["args"]]
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": uri}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def fetch_all(project: dict[str, Any], spec: dict[str, Any], models_dir: Path) -> None:
    for init in spec["initContainers"]:
        done = fetch(project["uri"], init, models_dir)
        assert done.returncode == 0, done.stderr


def local(path: str, models_dir: Path) -> Path:
    return Path(path.replace(MODELS_DIR, str(models_dir)))


def test_the_lock_records_the_layout_each_runtime_loads(project) -> None:
    lock = yaml.safe_load((project["root"] / "model_pins.lock").read_text())["models"]
    p = project["prefix"]
    assert {k: lock[f"{p}base"][1][k] for k in ("flavor", "path", "tokenizer")} == {
        "flavor": "transformers", "path": "model", "tokenizer": "components/tokenizer"}  # fmt: skip
    assert (lock[f"{p}lora"][1]["flavor"], lock[f"{p}lora"][1]["path"]) == ("transformers", "peft")
    assert lock[f"{p}lora"][1]["rank"] == RANK  # `r` of its adapter_config.json: vLLM's --max-lora-rank must hold it
    assert lock[f"{p}prompts"][2]["path"] == "chat_template.jinja"
    assert (lock[f"{p}scorer"][1]["flavor"], lock[f"{p}scorer"][1]["path"]) == ("sklearn", ".")


def test_vllm_gets_a_model_tokenizer_and_adapter_its_loaders_read(project, tmp_path) -> None:
    from safetensors.numpy import load_file
    from transformers import AutoConfig, AutoTokenizer
    from transformers.utils.peft_utils import find_adapter_config_file

    spec = pod(project, "chat")
    fetch_all(project, spec, tmp_path)
    server = spec["containers"][0]
    assert server["command"] == ["vllm", "serve"]
    args = server["args"]

    config = AutoConfig.from_pretrained(local(args[0], tmp_path))
    tokenizer = AutoTokenizer.from_pretrained(local(args[args.index("--tokenizer") + 1], tmp_path))
    name, _, adapter = args[args.index("--lora-modules") + 1].partition("=")
    adapter_dir = local(adapter, tmp_path)

    assert (config.model_type, config.hidden_size) == ("llama", HIDDEN)
    assert tokenizer("hello world")["input_ids"] == [WORDS.index("hello"), WORDS.index("world")]
    assert name == "assistant"
    assert args[args.index("--max-loras") + 1] == "1"  # one adapter served
    # r = 4 in its adapter_config.json; vLLM's --max-lora-rank accepts 1, 8, 16, ...: the smallest that holds it
    assert (RANK, args[args.index("--max-lora-rank") + 1]) == (4, "8")
    found = find_adapter_config_file(str(adapter_dir))
    assert found is not None
    adapter_config = json.loads(Path(found).read_text())
    assert adapter_config["peft_type"] == "LORA" and adapter_config["r"] == RANK
    weights = load_file(str(adapter_dir / "adapter_model.safetensors"))
    lora_a = [w for k, w in weights.items() if k.endswith("lora_A.weight")]
    assert lora_a and all(w.shape == (RANK, config.hidden_size) for w in lora_a)


PEFT_LOAD = """import json, sys
from peft import PeftConfig
from peft.utils import load_peft_weights
config = PeftConfig.from_pretrained(sys.argv[1])
weights = load_peft_weights(sys.argv[1], device="cpu")
print(json.dumps({"class": type(config).__name__, "type": config.peft_type.value, "r": config.r,
                  "targets": sorted(config.target_modules),
                  "lora_A": sorted({tuple(w.shape) for k, w in weights.items() if "lora_A" in k})}))
"""


@pytest.mark.timeout(2400)  # the first run builds peft_python (torch and peft installed by pip)
def test_peft_loads_the_adapter_directory_the_pod_gives_vllm(project, peft_python, tmp_path) -> None:
    spec = pod(project, "chat")
    fetch_all(project, spec, tmp_path)
    args = spec["containers"][0]["args"]
    _, _, adapter = args[args.index("--lora-modules") + 1].partition("=")

    done = subprocess.run([str(peft_python), "-c", PEFT_LOAD, str(local(adapter, tmp_path))], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert loaded == {"class": "LoraConfig", "type": "LORA", "r": RANK, "targets": ["q_proj", "v_proj"],
                      "lora_A": [[RANK, HIDDEN]]}  # fmt: skip


def test_the_pod_applies_exactly_the_pinned_chat_template_version(project, tmp_path) -> None:
    spec = pod(project, "chat")
    fetch_all(project, spec, tmp_path)
    args = spec["containers"][0]["args"]

    template = local(args[args.index("--chat-template") + 1], tmp_path).read_text()

    assert template.startswith("{{ 'v2' }}")  # champion: 2, not version 1


def test_the_classic_model_answers_invocations_from_mlflows_model_server(project, tmp_path) -> None:
    spec = pod(project, "scoring")
    fetch_all(project, spec, tmp_path)
    server = spec["containers"][0]
    assert server["command"] == ["mlflow", "models", "serve"]
    args = [a.replace(MODELS_DIR, str(tmp_path)) for a in server["args"]]
    port = free_port()
    args[args.index("--host") + 1], args[args.index("--port") + 1] = "127.0.0.1", str(port)
    bin_dir = Path(sys.executable).parent  # the image has mlflow and uvicorn on PATH; here they are in the venv
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([str(bin_dir / "mlflow"), "models", "serve", *args], stdout=subprocess.DEVNULL,
                                stderr=log, env=env, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "mlflow models serve did not answer /health"
                time.sleep(0.5)
        model, x = project["sklearn"]
        body = json.dumps({"dataframe_split": {"columns": ["0", "1"], "data": x.tolist()}}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.load(resp)
        assert answer["predictions"] == model.predict(x).tolist()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_a_base_model_without_the_layout_vllm_needs_is_refused_with_found_and_needed(project, client, tmp_path):
    p = project["prefix"]
    name = f"{p}bare"

    def weights_only(root: Path) -> None:  # transformers flavor logged with save_pretrained=False: no model/
        mlmodel = json.loads(json.dumps(TRANSFORMERS_MLMODEL))
        del mlmodel["flavors"]["transformers"]["model_binary"]
        (root / "MLmodel").write_text(yaml.safe_dump(mlmodel))
        (root / "components" / "tokenizer").mkdir(parents=True)
        (root / "components" / "tokenizer" / "tokenizer.json").write_text("{}")

    log_version(client, name, weights_only)
    bare = f"  {name}:\n    kind: base\n    aliases: {{prod: 1}}\n"
    text = project["pins"].read_text().replace(f"  {p}base:\n", bare + f"  {p}base:\n")
    text = text.replace(f"{{model: {p}base@prod, adapter", f"{{model: {name}@prod, adapter")
    text = text.replace(f"    base: {p}base@prod\n", f"    base: {name}@prod\n")
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.strip() == "aliases: {prod: 1}")

    result = run("--pins", pins, "lock", env={"MLFLOW_TRACKING_URI": project["uri"]})

    assert result.returncode == 2, result.stderr
    assert f"{pins}:{line}:" in result.stderr
    assert "cannot be served as a 'base' by vllm" in result.stderr
    assert "found flavors python_function, transformers and MLmodel, components/" in result.stderr
    assert "needed: an MLmodel with the transformers flavor and model/config.json" in result.stderr
    assert not (tmp_path / "model_pins.lock").exists()


def test_an_init_container_whose_download_holds_nothing_fails_and_names_the_missing_file(project, client, tmp_path):
    """`mlflow artifacts download` exits 0 with an empty directory when the version's artefacts cannot be read
    (here: deleted from the server's artifact root; in a cluster: a root only the MLflow server's disk holds).
    The pod must stop at its init container, not start a server that has nothing to load."""
    p = project["prefix"]
    name = f"{p}gone"
    log_version(client, name, lambda root: (root / "MLmodel").write_text(
        yaml.safe_dump({"flavors": {"python_function": {"loader_module": "mlflow.sklearn"}}})))  # fmt: skip
    remove_tree(run_files(client, client.get_model_version(name, "1").run_id))  # on disk, or in the S3 store
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(project["pins"].read_text().replace(f"serve: [{p}scorer@champion]", f"serve: [{name}@champion]")
                    .replace(f"  {p}scorer:\n", f"  {name}:\n"))  # fmt: skip
    shutil.copytree(project["root"] / "deploy", tmp_path / "deploy")
    assert run("--pins", pins, "render", "--out", tmp_path / "manifests").returncode == 0
    spec = yaml.safe_load((tmp_path / "manifests/base/scoring/deployment-scoring.yaml").read_text())

    done = fetch(project["uri"], spec["spec"]["template"]["spec"]["initContainers"][0], tmp_path / "models")

    assert done.returncode != 0
    assert f"holds no {tmp_path}/models/{name}/1/MLmodel, which the server loads" in done.stderr
