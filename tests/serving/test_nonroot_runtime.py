"""The serving image runs as the pods run it: UID 10001 (no passwd entry), read-only root, the rendered environment
and emptyDirs; the runtime imports and writes its caches.

Real parts: deploy/Dockerfile, unchanged, built by the real dockerd on a Python base image made from this
machine's interpreter (conftest's `python_base`: no vLLM image can be pulled here), the container run with the
rendered container's user, environment, read-only root and emptyDir mounts. Stand-in: the runtime. In place of
vLLM and torch (gigabytes, and a GPU), a module does what they do at import that depends on the pod's user and
filesystem: torch resolves the user name with `getpass.getuser()` for its default cache path, and vLLM, Triton,
torch.compile and Hugging Face create their cache directories (from HOME, XDG_CACHE_HOME and their own variables).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from modelpins import pins as pinsmod
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.render import resolved

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
CACHES = ("XDG_CACHE_HOME", "HF_HOME", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "VLLM_CACHE_ROOT")
RUNTIME = f"""
import getpass, os, pathlib
user = getpass.getuser()  # torch._inductor: the default cache dir is /tmp/torchinductor_<user>
home = pathlib.Path.home()
for var in {CACHES!r}:
    d = pathlib.Path(os.environ.get(var) or home / ".cache" / var.lower())
    d.mkdir(parents=True, exist_ok=True)
    (d / "probe").write_text("ok")
try:
    open("/probe", "w")
except OSError:
    root = "read-only"
else:
    root = "writable"
print("runtime imported", user, os.getuid(), root)
"""


def build(engine: Any, base: str) -> str:
    """deploy/Dockerfile on `base`, with the stand-in runtime in the build context's models/. Its pip step runs
    `pip install --help` (MLFLOW_REQUIREMENT): nothing to install offline, the MLflow client is not under test."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", (REPO / "deploy" / "Dockerfile").read_bytes()),
                           ("models/runtime_standin.py", RUNTIME.encode())):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    import docker

    try:
        image, _ = engine.client().images.build(
            fileobj=context,
            custom_context=True,
            buildargs={"BASE_IMAGE": base, "MLFLOW_REQUIREMENT": "--help"},
            network_mode="none",
            rm=True,
        )
    except docker.errors.BuildError as exc:
        pytest.fail("".join(str(c.get("stream", c.get("error", ""))) for c in exc.build_log))
    return image.id


def rendered_container() -> tuple[dict[str, Any], dict[str, Any]]:
    objs = resolved(pinsmod.load(HERE / "golden" / "model_pins.yaml"), ImageLock(), b"FROM scratch\n", "prod")
    dep = next(o for o in objs if o["metadata"]["name"] == "helpdesk-stable")
    pod = dep["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


@pytest.mark.timeout(900)
def test_the_image_runs_as_uid_10001_with_a_read_only_root_and_imports_the_runtime(docker_engine, python_base):
    image = build(docker_engine, python_base)
    pod, spec = rendered_container()
    ctx = pod["securityContext"]
    emptydirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v} - {"models"}
    writable = {m["mountPath"]: "mode=1777" for m in spec["volumeMounts"] if m["name"] in emptydirs}

    out = docker_engine.client().containers.run(
        image,
        entrypoint=["python3", "-c", "import runtime_standin"],
        environment={**{e["name"]: e["value"] for e in spec["env"]}, "PYTHONPATH": "/models"},
        user=f"{ctx['runAsUser']}:{ctx['runAsGroup']}",
        read_only=spec["securityContext"]["readOnlyRootFilesystem"],
        cap_drop=spec["securityContext"]["capabilities"]["drop"],
        tmpfs=writable,
        network_mode="none",
        remove=True,
    )

    assert out.decode().split() == ["runtime", "imported", "modelpins", "10001", "read-only"]
