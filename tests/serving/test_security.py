"""Restricted by default: every rendered pod meets the Kubernetes Pod Security Standard "restricted" (checked here
rule by rule, as the standard lists them), runs read-only as deploy/Dockerfile's non-root USER, and sizes its
model volume from model_pins.lock. .ci/run also runs checkov's Kubernetes checks over the same renders.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelpins import pins as pinsmod
from modelpins.commands.serving import locked_artefacts
from modelpins.integrity import artefact_lock as model_lock
from modelpins.layout import Locked
from modelpins.serving.image_lock import ImageLock
from modelpins.serving.render import render
from tests.helpers.cli import run

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
REPO = HERE.parents[1]
DOCKERFILE = (REPO / "deploy" / "Dockerfile").read_bytes()
CLASSIC_DOCKERFILE = (REPO / "deploy" / "Dockerfile.mlflow").read_bytes()
# Pod Security Standards, restricted profile (kubernetes.io/docs/concepts/security/pod-security-standards)
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip


def pods(pins_path: Path, locked: Locked | None = None) -> list[tuple[str, dict[str, Any]]]:
    files = render(pinsmod.load(pins_path), ImageLock(), DOCKERFILE, locked, classic_dockerfile=CLASSIC_DOCKERFILE)
    docs = [yaml.safe_load(data) for data in files.values()]
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in docs if d["kind"] == "Deployment"]


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    out = []
    psc = pod.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            out.append(key)
    for vol in pod.get("volumes", []):
        kinds = set(vol) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            out.append(f"volume {vol['name']} of type {kinds}")
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            out.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{name}: does not drop ALL capabilities")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            out.append(f"{name}: adds capabilities {caps['add']}")
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
            out.append(f"{name}: runAsNonRoot is not true")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            out.append(f"{name}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: seccomp profile {seccomp}")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            out.append(f"{name}: hostPort")
    return out


@pytest.mark.parametrize("pins_path", [REPO / "model_pins.yaml", GOLDEN / "model_pins.yaml"], ids=["repo", "golden"])
def test_every_rendered_pod_meets_the_restricted_pod_security_standard(pins_path: Path) -> None:
    found = {name: v for name, pod in pods(pins_path) if (v := restricted_violations(pod))}
    assert found == {}


def test_root_filesystems_are_read_only_and_what_is_written_is_an_emptydir() -> None:
    for name, pod in pods(GOLDEN / "model_pins.yaml"):
        volumes = {v["name"]: v for v in pod["volumes"]}
        for c in pod.get("initContainers", []) + pod["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, (name, c["name"])
            mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
            home = next(e["value"] for e in c["env"] if e["name"] == "HOME")
            for path in ("/tmp", home):
                assert path in mounts and "emptyDir" in volumes[mounts[path]["name"]], (name, c["name"], path)
                assert "sizeLimit" in volumes[mounts[path]["name"]]["emptyDir"]
            if c["name"].startswith("fetch"):
                assert not mounts["/models"].get("readOnly")
            elif "/models" in mounts:
                assert mounts["/models"]["readOnly"] is True


def test_pods_run_as_the_dockerfile_user_which_is_not_root() -> None:
    user = re.findall(r"^USER (\S+)", DOCKERFILE.decode(), re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("0", "root")
    uid = int(user[-1].split(":")[0])
    for _, pod in pods(REPO / "model_pins.yaml"):
        assert pod["securityContext"]["runAsUser"] == uid


def mib(n: int) -> int:
    return int(n.removesuffix("Mi")) if isinstance(n, str) else n


def test_model_volume_size_and_ephemeral_storage_request_follow_the_artefact_sizes_in_the_lock() -> None:
    locked = model_lock.read(GOLDEN / "model_pins.lock")
    assert locked is not None
    sizes = {key: e.bytes for key, e in locked.entries.items()}
    pins = pinsmod.load(GOLDEN / "model_pins.yaml")
    rendered = dict(pods(GOLDEN / "model_pins.yaml", locked_artefacts(GOLDEN / "model_pins.yaml")))
    # helpdesk's stable track downloads the base, two adapters and the prompts
    versions = [("llm-base", 2), ("helpdesk-lora", 5), ("billing-lora", 1), ("helpdesk-prompts", 9)]
    pinned = {(m, pins.models[m].aliases["production" if m == "llm-base" else "champion"].version) for m, _ in versions}
    assert pinned == set(versions)
    want = math.ceil(sum(sizes[v] for v in versions) * 1.1 / 2**20)
    pod = rendered["helpdesk-stable"]
    volume = next(v for v in pod["volumes"] if v["name"] == "models")
    assert mib(volume["emptyDir"]["sizeLimit"]) == want
    assert want > 15_000  # the 16 GB checkpoint is in it
    scratch = sum(mib(v["emptyDir"]["sizeLimit"]) for v in pod["volumes"] if v["name"] in ("models", "tmp", "home"))
    assert mib(pod["containers"][0]["resources"]["requests"]["ephemeral-storage"]) == scratch


def test_a_lock_without_a_served_version_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    shutil.copy(REPO / "deploy" / "Dockerfile", tmp_path / "deploy" / "Dockerfile")
    shutil.copy(GOLDEN / "model_pins.yaml", tmp_path / "model_pins.yaml")
    lock = (GOLDEN / "model_pins.lock").read_text()
    (tmp_path / "model_pins.lock").write_text(re.sub(r'  "churn":\n.*\n', "", lock))

    result = run("--pins", tmp_path / "model_pins.yaml", "render", "--out", tmp_path / "m")

    assert result.returncode == 2, result.stderr
    assert "churn@champion" in result.stderr and "modelpins lock" in result.stderr
    assert not (tmp_path / "m").exists()
