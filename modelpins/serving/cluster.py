"""The Kubernetes API adapter: get, server-side apply and delete the kinds render produces.

Uses the `kubernetes` client's ApiClient with the usual configuration (KUBECONFIG or
~/.kube/config, or the in-cluster service account) and talks REST paths directly, so
HTTPRoute (a CRD) needs no generated client and no discovery round-trips.
"""

from __future__ import annotations

import json
import os
from typing import Any

from modelpins.errors import InvalidInput, OperationFailed
from modelpins.tags import MANAGED_BY

FIELD_MANAGER = "modelpins"
TIMEOUT = 30.0  # seconds per API request
# kind -> (API prefix, plural, namespaced)
PATHS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Service": ("/api/v1", "services", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", True),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    "HTTPRoute": ("/apis/gateway.networking.k8s.io/v1", "httproutes", True),
    "Rollout": ("/apis/argoproj.io/v1alpha1", "rollouts", True),
    "AnalysisTemplate": ("/apis/argoproj.io/v1alpha1", "analysistemplates", True),
}


def describe(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta['name']}"


class Cluster:
    def __init__(self, context: str | None = None, api_client: Any = None):
        try:
            from kubernetes import client, config
        except ImportError:
            raise InvalidInput(
                "the kubernetes client is not installed; fix: pip install 'modelpins[serving]'"
            ) from None

        if api_client is None:
            try:
                config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None, context=context)
            except (config.ConfigException, OSError, TypeError) as exc:
                try:
                    config.load_incluster_config()
                except config.ConfigException:
                    raise InvalidInput(
                        f"no Kubernetes configuration ({exc}); fix: set KUBECONFIG, pass --context, "
                        "or run inside a cluster with a service account"
                    ) from None
            api_client = client.ApiClient()
        self.api = api_client
        self.host = str(getattr(api_client.configuration, "host", ""))

    def _path(self, obj: dict[str, Any], named: bool = True) -> str:
        kind = obj["kind"]
        if kind not in PATHS:
            raise InvalidInput(f"modelpins does not know how to apply a {kind}")
        prefix, plural, namespaced = PATHS[kind]
        meta = obj["metadata"]
        path = f"{prefix}/namespaces/{meta['namespace']}/{plural}" if namespaced else f"{prefix}/{plural}"
        return f"{path}/{meta['name']}" if named else path

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any] | None:
        """One request; the decoded body, or None for 404. Other errors raise OperationFailed."""
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            req = self.api.param_serialize(
                method, path, query_params=query or [], header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            resp = self.api.call_api(*req[:2], header_params=req[2], body=req[3], _request_timeout=TIMEOUT)
            data = resp.read()
        except HTTPError as exc:
            raise OperationFailed(f"cannot reach the Kubernetes API at {self.host}: {exc}") from None
        if resp.status == 404:
            return None
        if resp.status >= 400:
            raise OperationFailed(f"Kubernetes API refused {method} {path}: HTTP {resp.status} {_message(data)}")
        return dict(json.loads(data)) if data else {}

    def get(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        return self._call("GET", self._path(obj))

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply as field manager 'modelpins' (taking over conflicting fields)."""
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        out = self._call("PATCH", self._path(obj), obj, query, "application/apply-patch+yaml")
        if out is None:
            # An API server creates the object on apply; one that answers 404 instead gets a create.
            out = self._call("POST", self._path(obj, named=False), obj, [("fieldManager", FIELD_MANAGER)])
        if out is None:
            raise OperationFailed(f"cannot create {describe(obj)}: the API has no {obj['kind']} resource")
        return out

    def delete(self, obj: dict[str, Any]) -> None:
        self._call("DELETE", self._path(obj))

    def managed(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        """The `kind` objects in `namespace` labelled as managed by modelpins."""
        probe = {"kind": kind, "metadata": {"namespace": namespace, "name": ""}}
        query = [("labelSelector", f"{MANAGED_BY}=modelpins")]
        items = (self._call("GET", self._path(probe, named=False), query=query) or {}).get("items") or []
        out = []
        for item in items:
            if (item.get("metadata", {}).get("labels") or {}).get(MANAGED_BY) == "modelpins":
                out.append({**item, "kind": kind, "metadata": {**item["metadata"], "namespace": namespace}})
        return out


def _message(data: bytes) -> str:
    try:
        return str(json.loads(data).get("message", ""))[:300]
    except (ValueError, AttributeError):
        return data[:300].decode(errors="replace")
