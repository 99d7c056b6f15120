"""A runtime per kind of model: vLLM for LLMs, MLflow's model server for classic models, chosen by kind and flavor,
shown in the plan; the layout rules that decide what each runtime is given (the real artefacts: test_artefacts.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from modelpins import layout
from modelpins import pins as pinsmod
from modelpins.errors import InvalidInput
from modelpins.layout import Layout
from modelpins.plan import Change, served_by
from modelpins.serving.image_lock import ImageLock, LockEntry
from modelpins.serving.render import render
from tests.helpers.cli import run

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
DOCKERFILE = (HERE.parents[1] / "deploy" / "Dockerfile").read_bytes()


def containers(deployment: str) -> list[dict]:
    files = render(pinsmod.load(GOLDEN / "model_pins.yaml"), ImageLock(), DOCKERFILE)
    obj = yaml.safe_load(files[f"base/{deployment}/deployment-{deployment}.yaml"])
    return obj["spec"]["template"]["spec"]["containers"]


def test_classic_models_run_mlflows_model_server_and_llms_run_vllm() -> None:
    tabular = containers("tabular")
    helpdesk = yaml.safe_load(
        render(pinsmod.load(GOLDEN / "model_pins.yaml"), ImageLock(), DOCKERFILE)[
            "base/helpdesk/deployment-helpdesk-stable.yaml"
        ]
    )["spec"]["template"]["spec"]["containers"]

    assert [c["command"] for c in tabular] == [["mlflow", "models", "serve"]] * 2
    assert [c["args"][:2] for c in tabular] == [["-m", "/models/fraud/3"], ["-m", "/models/churn/7"]]
    assert all("--env-manager" in c["args"] and "nvidia.com/gpu" not in c["resources"]["limits"] for c in tabular)
    assert tabular[0]["image"].startswith("registry.example/serving/mlflow-serve@sha256:")
    assert helpdesk[0]["command"] == ["vllm", "serve"]
    assert "modelpins-vllm" in helpdesk[0]["image"]


def test_the_plan_names_the_runtime_of_each_moved_model() -> None:
    p = pinsmod.load(GOLDEN / "model_pins.yaml")
    changes = [Change("fraud", "challenger", 4, 5), Change("helpdesk-lora", "challenger", 6, 7)]

    text = served_by(p, changes, {("fraud", 5): Layout("sklearn", ".")})

    lines = [line.split(None, 4) for line in text.splitlines()[1:]]
    assert [
        "fraud",
        "challenger",
        "fraud-bg",
        "prod",
        "MLflow model server (mlflow models serve, flavor sklearn)",
    ] in lines
    assert ["helpdesk-lora", "challenger", "helpdesk", "prod", "vLLM (vllm serve, transformers layout)"] in lines


LAYOUTS = {
    "transformers base": ("base", ["MLmodel", "model/config.json", "model/model.safetensors",
                                   "components/tokenizer/tokenizer.json"], "flavors: {transformers: {}}",
                          Layout("transformers", "model", "components/tokenizer")),
    "plain Hugging Face base": ("base", ["config.json", "model-00001-of-00002.safetensors", "tokenizer.json"], None,
                                Layout("none", ".")),
    "peft adapter": ("adapter", ["MLmodel", "peft/adapter_config.json", "peft/adapter_model.safetensors"],
                     "flavors: {transformers: {peft_adapter_dir: peft}}", Layout("transformers", "peft")),
    "sklearn model": ("model", ["MLmodel", "model.pkl"], "flavors: {python_function: {}, sklearn: {}}",
                      Layout("sklearn", ".")),
    "chat template": ("prompts", ["chat_template.jinja"], None, Layout("none", "chat_template.jinja")),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(LAYOUTS))
def test_layouts_each_runtime_loads(case: str) -> None:
    kind, files, mlmodel, want = LAYOUTS[case]
    assert layout.detect(kind, files, mlmodel) == want


def test_a_classic_model_without_pyfunc_and_a_base_without_config_are_described() -> None:
    assert layout.detect("model", ["model/logreg.json"], None) == "found flavors (no MLmodel) and model/"
    found = layout.detect("base", ["MLmodel", "model/model.safetensors"], "flavors: {transformers: {}}")
    assert found == "found flavors transformers and MLmodel, model/"


def test_entries_sharing_one_vllm_process_must_share_their_chat_template(tmp_path: Path) -> None:
    text = (GOLDEN / "model_pins.yaml").read_text()
    text = text.replace("billing-lora@champion, prompts: helpdesk-prompts@champion,", "billing-lora@champion,", 1)
    pins = tmp_path / "model_pins.yaml"
    pins.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "adapter: billing-lora@champion, name:" in row)

    result = run("--pins", pins, "validate", "--offline")

    assert result.returncode == 2
    assert f"{pins}:{line}:" in result.stderr and "one chat template" in result.stderr


def test_the_image_build_makes_on_classic_base_comes_from_the_image_lock() -> None:
    text = (GOLDEN / "model_pins.yaml").read_text()
    base = "python:3.12-slim@sha256:" + "3" * 64
    text = re.sub(r"(?m)^  classic: .*$", f"  classic_base: {base}", text)
    p = pinsmod.loads(text, "model_pins.yaml")
    built = "registry.example/serving/mlflow-serve:classic-abc@sha256:" + "2" * 64

    with pytest.raises(InvalidInput, match="records no image built on images.classic_base"):
        render(p, ImageLock(), DOCKERFILE)
    with pytest.raises(InvalidInput, match="run 'modelpins build --push'"):  # built on another base: stale
        render(p, ImageLock(classic=LockEntry(built, "classic-abc", basis="python@sha256:" + "4" * 64)), DOCKERFILE)
    files = render(p, ImageLock(classic=LockEntry(built, "classic-abc", basis=base)), DOCKERFILE)

    pod = yaml.safe_load(files["base/tabular/deployment-tabular.yaml"])["spec"]["template"]["spec"]
    assert {c["image"] for c in pod["containers"] + pod["initContainers"]} == {built}
