"""Which runtime serves a model version, and the directory inside its artefacts that runtime loads.

| kind      | runtime                                  | artefacts must hold                                     |
| --------- | ---------------------------------------- | ------------------------------------------------------- |
| base      | vLLM (`vllm serve DIR --tokenizer DIR`)  | MLflow transformers flavor: `model/config.json` and     |
|           |                                          | weights (`*.safetensors`/`*.bin`) under `model/`, a     |
|           |                                          | tokenizer under `components/tokenizer/`; or, without an |
|           |                                          | MLmodel, a Hugging Face directory at the root           |
| adapter   | vLLM (`--lora-modules NAME=DIR`)         | `peft/adapter_config.json` and adapter weights under    |
|           |                                          | `peft/` (transformers flavor); or both at the root      |
| model     | MLflow's model server                    | an MLmodel with the `python_function` flavor            |
|           | (`mlflow models serve -m DIR`)           |                                                         |
| prompts   | vLLM's `--chat-template FILE`            | `chat_template.jinja` at the root                       |

`modelpins lock` reads each pinned version's file list and MLmodel, applies these rules and
records the result (flavor, path, tokenizer; an adapter's LoRA rank `r` from its
adapter_config.json) in model_pins.lock, so render stays offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

VLLM, MLFLOW = "vllm", "mlflow"
CHAT_TEMPLATE = "chat_template.jinja"
WEIGHTS = (".safetensors", ".bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


@dataclass(frozen=True)
class Layout:
    flavor: str  # the MLmodel's main flavor ('transformers', 'sklearn', ...), or 'none' without an MLmodel
    path: str  # what the runtime loads, relative to the version's artefact root ('.': the root)
    tokenizer: str = ""  # vLLM's --tokenizer, relative, when it is not `path`
    rank: int = 0  # an adapter's LoRA rank (`r` in its adapter_config.json); 0: not recorded


DEFAULTS = {  # what render assumes for a version model_pins.lock does not describe (MLflow's own layouts)
    "base": Layout("transformers", "model", "components/tokenizer"),
    "adapter": Layout("transformers", "peft"),
    "model": Layout("python_function", "."),
    "prompts": Layout("none", CHAT_TEMPLATE),
}
LOADED = {  # the file each runtime reads first inside the loaded path (the init container checks it arrived)
    "base": "config.json",
    "adapter": "adapter_config.json",
    "model": "MLmodel",
    "prompts": "",  # the path is the template file itself
}
NEEDED = {
    "base": "an MLmodel with the transformers flavor and model/config.json, weights (*.safetensors or *.bin) under "
    "model/ and a tokenizer under components/tokenizer/ (mlflow.transformers.log_model with save_pretrained=True); "
    "or, without an MLmodel, config.json, weights and tokenizer files at the root",
    "adapter": "peft/adapter_config.json and adapter weights under peft/ (mlflow.transformers.log_model of a PEFT "
    "model); or, without an MLmodel, adapter_config.json and weights at the root",
    "model": "an MLmodel with the python_function flavor (any mlflow.<flavor>.log_model), for MLflow's model server",
    "prompts": f"{CHAT_TEMPLATE} at the root (the chat template vLLM applies)",
}


def runtime(kind: str) -> str:
    """vLLM for LLMs (base, adapter; prompts are part of their server); MLflow's model server for the rest."""
    return MLFLOW if kind == "model" else VLLM


def describe(kind: str, layout: Layout | None) -> str:
    layout = layout or DEFAULTS[kind]
    if runtime(kind) == MLFLOW:
        return f"MLflow model server (mlflow models serve, flavor {layout.flavor})"
    return f"vLLM (vllm serve, {'chat template' if kind == 'prompts' else layout.flavor + ' layout'})"


def flavors(mlmodel: bytes | str | None) -> dict[str, Any] | None:
    """The MLmodel's `flavors` mapping; None when there is no MLmodel or it is not one."""
    if mlmodel is None:
        return None
    try:
        data = yaml.safe_load(mlmodel)
    except yaml.YAMLError:
        return None
    found = data.get("flavors") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else None


def _main_flavor(found: dict[str, Any]) -> str:
    return next((f for f in found if f != "python_function"), "python_function")


def _hf_dir(files: set[str], d: str) -> bool:
    prefix = "" if d == "." else d + "/"
    here = {f[len(prefix) :] for f in files if f.startswith(prefix) and "/" not in f[len(prefix) :]}
    return "config.json" in here and any(f.endswith(WEIGHTS) for f in here)


def _tokenizer_dir(files: set[str], d: str) -> bool:
    prefix = "" if d == "." else d + "/"
    return any(f"{prefix}{name}" in files for name in TOKENIZER_FILES)


def _adapter_dir(files: set[str], d: str) -> bool:
    prefix = "" if d == "." else d + "/"
    return f"{prefix}adapter_config.json" in files and any(
        f.startswith(prefix + "adapter_model") and f.endswith(WEIGHTS) for f in files
    )


def detect(kind: str, paths: Iterable[str], mlmodel: bytes | str | None) -> Layout | str:
    """The layout of a version's artefacts (relative file paths, the MLmodel's text if there is one) for `kind`,
    or a sentence saying what was found when it is not one the runtime can load."""
    files = set(paths)
    found = flavors(mlmodel)
    flavor = _main_flavor(found) if found else "none"
    rule = {"model": _model, "prompts": _prompts, "base": _base, "adapter": _adapter}.get(kind)
    loads = rule(files, found, flavor) if rule else None
    if loads is not None:
        return loads
    top = sorted({f.split("/")[0] + ("/" if "/" in f else "") for f in files})
    shown = ", ".join(top[:12]) + (", ..." if len(top) > 12 else "") or "no files"
    return f"found flavors {', '.join(found) if found else '(no MLmodel)'} and {shown}"


Flavors = dict[str, Any] | None  # an MLmodel's flavors, None without one


def _model(files: set[str], found: Flavors, flavor: str) -> Layout | None:
    return Layout(flavor, ".") if found and "python_function" in found else None


def _prompts(files: set[str], found: Flavors, flavor: str) -> Layout | None:
    return Layout(flavor, CHAT_TEMPLATE) if CHAT_TEMPLATE in files else None


def _base(files: set[str], found: Flavors, flavor: str) -> Layout | None:
    if found and "transformers" in found and _hf_dir(files, "model") and _tokenizer_dir(files, "components/tokenizer"):
        return Layout("transformers", "model", "components/tokenizer")
    if not found and _hf_dir(files, ".") and _tokenizer_dir(files, "."):
        return Layout("none", ".")
    return None


def _adapter(files: set[str], found: Flavors, flavor: str) -> Layout | None:
    if found and "transformers" in found and _adapter_dir(files, "peft"):
        return Layout("transformers", "peft")
    if not found and _adapter_dir(files, "."):
        return Layout("none", ".")
    return None


def lora_rank(config: bytes | str | None) -> int:
    """`r` of a PEFT adapter_config.json (0 when it is missing or not a positive integer)."""
    try:
        data = json.loads(config) if config else None
    except ValueError:
        return 0
    r = data.get("r") if isinstance(data, dict) else None
    return r if isinstance(r, int) and not isinstance(r, bool) and r > 0 else 0


@dataclass(frozen=True)
class Locked:
    """What render reads from model_pins.lock: artefact bytes and layout per (model, version)."""

    sizes: dict[tuple[str, int], int]
    layouts: dict[tuple[str, int], Layout]


def join(root: str, rel: str) -> str:
    return root if rel in ("", ".") else f"{root}/{rel}"
