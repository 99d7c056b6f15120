"""An in-memory Kubernetes API (kmock's emulator) on loopback, plus a stand-in Deployment controller.

No kube-apiserver can run on this machine, so rollout tests talk to kmock's emulator
over real HTTP with the real `kubernetes` client. The emulator stores objects and merges
patches; it does not implement server-side apply's field ownership, admission, schema
validation, or any controller. Two things rollout depends on are added here, plainly:
`metadata.generation` goes up when a Deployment's spec changes (as the API server does),
and `Controller` writes Deployment status the way the deployment controller would,
following a behaviour the test chooses. kmock 0.8 also reads `/api/v1/namespaces[/NAME]`
as a namespace prefix rather than the Namespace resource; `_parse_path` fixes that path.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmock
import requests
from kmock._internal import enums, parsing

_kmock_parse_path = parsing.parse_path


def _parse_path(path: str) -> parsing.ParsedPath:
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
        return parsing.ParsedPath("", "v1", "namespaces", None, parts[3] if len(parts) == 4 else None, None)
    return _kmock_parse_path(path)


parsing.parse_path = _parse_path


class ApiServer(kmock.KubernetesEmulator):
    async def _handle(self, request):
        res = request.resource
        if res is not None and res.plural == "deployments" and request.subresource is None:
            data = request.data if isinstance(request.data, dict) else None
            if data is not None and request.action in (enums.action.CREATE, enums.action.UPDATE):
                name = request.name or data.get("metadata", {}).get("name")
                ns = request.namespace or data.get("metadata", {}).get("namespace")
                key = (res, ns, name)
                current = self._objects[key].raw if key in self._objects and not self._objects[key].deleted else None
                if current is None:
                    data.setdefault("metadata", {})["generation"] = 1
                elif "spec" in data and data["spec"] != current.get("spec"):
                    data.setdefault("metadata", {})["generation"] = current["metadata"].get("generation", 1) + 1
        return await super()._handle(request)


@dataclass
class KubeEmulator:
    url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stop: asyncio.Event | None = None

    def start(self) -> KubeEmulator:
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def main() -> None:
            self._stop = asyncio.Event()
            async with ApiServer() as handler, kmock.Server(handler) as server:
                self.url = str(server.url).rstrip("/")
                started.set()
                await self._stop.wait()

        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(main(),), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the Kubernetes emulator did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread:
            self._thread.join(10)

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
            f"clusters:\n- name: emulator\n  cluster:\n    server: {self.url}\n"
            "users:\n- name: tester\n  user:\n    token: not-a-secret\n"
            "contexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: tester\n"
        )
        return path

    def get(self, path: str) -> dict[str, Any] | None:
        resp = requests.get(self.url + path, timeout=10)
        return None if resp.status_code == 404 else resp.json()

    def deployments(self) -> list[dict[str, Any]]:
        return list((self.get("/apis/apps/v1/deployments") or {}).get("items", []))


# deployment -> status to write (None: write nothing, the controller "hangs")
Behaviour = Callable[[dict[str, Any]], "dict[str, Any] | None"]


def healthy(dep: dict[str, Any]) -> dict[str, Any]:
    n = dep.get("spec", {}).get("replicas", 1)
    return {
        "observedGeneration": dep["metadata"].get("generation", 1),
        "replicas": n,
        "updatedReplicas": n,
        "readyReplicas": n,
        "availableReplicas": n,
    }


def crashing(dep: dict[str, Any]) -> dict[str, Any]:
    """Pods never become ready and the deployment controller gives up (ProgressDeadlineExceeded)."""
    return {
        "observedGeneration": dep["metadata"].get("generation", 1),
        "replicas": dep.get("spec", {}).get("replicas", 1),
        "updatedReplicas": 1,
        "availableReplicas": 0,
        "conditions": [
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": f"ReplicaSet of {dep['metadata']['name']} has timed out progressing.",
            }
        ],
    }


@dataclass
class Controller:
    """Writes each Deployment's status per `behaviour(deployment)`, like the deployment controller would."""

    kube: KubeEmulator
    behaviour: Behaviour = healthy
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Controller:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for dep in self.kube.deployments():
                status = self.behaviour(dep)
                if status is not None and status != dep.get("status"):
                    meta = dep["metadata"]
                    path = f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}/status"
                    requests.patch(self.kube.url + path, json={"status": status}, timeout=10)
            time.sleep(0.05)
