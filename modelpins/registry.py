"""MLflow Model Registry adapter: MLflow's REST API 2.0, one HTTP request per operation.

`MlflowClient.set_registered_model_alias` costs two requests and retries for
minutes on a dead server; this adapter makes one request per operation, retries
a bounded number of times with exponential backoff (urllib3's `Retry` on its session),
and counts what it sent (`reads`, `writes`, one per operation) so callers can report
their cost. It is the only module that knows MLflow's endpoints: callers use its named
methods (aliases, versions, runs, artefacts, and the registered models the apply lock
is made of).

Environment: MLFLOW_TRACKING_TOKEN (bearer), MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD (basic), MLFLOW_TRACKING_INSECURE_TLS,
MLFLOW_TRACKING_SERVER_CERT_PATH, MLFLOW_TRACKING_CLIENT_CERT_PATH (mutual TLS: one PEM file with the
client certificate and its key), as MLflow's own client reads them; and
MODELPINS_HTTP_RETRIES (0 to 20, default 3), MODELPINS_HTTP_BACKOFF (seconds, 0 to 60,
default 0.5), MODELPINS_HTTP_TIMEOUT (seconds, 0.1 to 600, default 30); each is checked
(modelpins.envvars): a bad value is invalid input, exit 2.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from modelpins import envvars
from modelpins.errors import OperationFailed, RegistryUnavailable
from modelpins.mlflow_http import (
    RETRY_STATUSES,
    SERVER_FIX,
    Conflict,
    NotFound,
    UrlTooLong,
    http_error,
    too_old,
    transport,
    unreachable,
)
from modelpins.redact import public_url, userinfo
from modelpins.tags import is_lock_model

API = "/api/2.0/mlflow/"
PAGE = 1000  # the server's cap for registered-models/search
DEFAULT_PARALLEL = 4  # apply --parallel: MLflow servers run a few workers (`mlflow server --workers 4`)
MAX_PARALLEL = 32  # the most requests in flight at once; the connection pool keeps as many (and one for the lock)


@dataclass(frozen=True)
class VersionInfo:
    model: str
    version: int
    status: str
    run_id: str = ""
    source: str = ""
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    created_ms: int = 0
    run_link: str = ""


class MlflowRegistry:
    def __init__(
        self,
        tracking_uri: str,
        *,
        retries: int | None = None,
        backoff: float | None = None,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ):
        env = os.environ if env is None else env
        tracking_uri = envvars.tracking_uri(tracking_uri, "tracking URI")
        import requests  # deferred: `modelpins validate` without a server never needs it

        self.tracking_uri = tracking_uri.rstrip("/")
        self._api = self.tracking_uri + API
        self.retries = envvars.integer("MODELPINS_HTTP_RETRIES", 3, 0, 20, env) if retries is None else retries
        self.backoff = envvars.number("MODELPINS_HTTP_BACKOFF", 0.5, 0, 60, env) if backoff is None else backoff
        self.timeout = envvars.number("MODELPINS_HTTP_TIMEOUT", 30, 0.1, 600, env) if timeout is None else timeout
        self.reads = 0
        self.writes = 0
        self._count = threading.Lock()  # calls come from apply's worker threads and the lock's renewer
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "modelpins"
        adapter = transport(self.retries, self.backoff, MAX_PARALLEL + 1)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        token = envvars.secret("MLFLOW_TRACKING_TOKEN", env)
        user = envvars.secret("MLFLOW_TRACKING_USERNAME", env)
        password = envvars.secret("MLFLOW_TRACKING_PASSWORD", env)
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        elif user:
            self._session.auth = (user, password or "")
        self._credentials = _credentials(env, tracking_uri)
        cert = envvars.readable_file("MLFLOW_TRACKING_SERVER_CERT_PATH", env)
        client_cert = envvars.readable_file(
            "MLFLOW_TRACKING_CLIENT_CERT_PATH",
            env,
            "a PEM file with the client certificate and its unencrypted key (mutual TLS)",
        )
        if client_cert:
            self._session.cert = client_cert
        self._verify: bool | str = True
        if envvars.choice("MLFLOW_TRACKING_INSECURE_TLS", "false", ("true", "false"), env) == "true":
            self._verify = False
        elif cert:
            self._verify = cert

    def credentials(self) -> dict[str, str]:
        """The MLFLOW_TRACKING_* variables that reach this server as this adapter does (a URL's user-info as
        MLFLOW_TRACKING_USERNAME and _PASSWORD): what a gate that reads this registry is given."""
        return dict(self._credentials)

    # -- transport -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        """One REST call (retried by the session, see `mlflow_http.retry_policy`); None for a 404 when `missing_ok`."""
        resp = self._send(method, self._api + endpoint, endpoint, params=params, json=body)
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code >= 400:
            raise http_error(resp, endpoint)
        return dict(resp.json()) if resp.content else {}

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        """The session's answer after its retries; RegistryUnavailable once they are used up.

        Counts one read (GET) or one write (any other method) per call, whatever the retries.
        """
        import requests

        with self._count:
            if method == "GET":
                self.reads += 1
            else:
                self.writes += 1
        try:
            # verify given per request: requests lets $REQUESTS_CA_BUNDLE override a session's own CA bundle
            resp = self._session.request(method, url, timeout=self.timeout, verify=self._verify, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:  # retries used up end in a ConnectionError
            last = unreachable(exc, self.timeout)
        else:
            if resp.status_code not in RETRY_STATUSES:
                return resp
            last = f"HTTP {resp.status_code}"
            resp.close()
        tries = "once" if self.retries == 0 else f"{self.retries + 1} times"
        raise RegistryUnavailable(
            f"MLflow server at {public_url(self.tracking_uri)} failed {tries} on "
            f"{method} {what}: {last}. The command stopped there; run it again once the server is reachable"
        )

    def check_server(self, whose: str = "the MLflow server", fix: str = SERVER_FIX) -> None:
        """Raise OperationFailed when the server's MLflow is older than modelpins supports (one GET /version);
        `whose` and `fix` name the server and where its address is set, for the message."""
        resp = self._send("GET", self.tracking_uri + "/version", "version")
        if resp.status_code == 200:
            error = too_old(resp.text, public_url(self.tracking_uri), whose, fix)
            if error:
                raise error

    # -- reads -----------------------------------------------------------------------------

    def aliases(self) -> dict[str, dict[str, int]]:
        """Every registered model's aliases, in ceil(models/1000) requests."""
        out: dict[str, dict[str, int]] = {}
        token = None
        while True:
            params: dict[str, Any] = {"max_results": PAGE}
            if token:
                params["page_token"] = token
            page = self._request("GET", "registered-models/search", params=params) or {}
            for model in page.get("registered_models", []):
                if is_lock_model(model["name"]):
                    continue  # the apply lock and its guards
                out[model["name"]] = {a["alias"]: int(a["version"]) for a in model.get("aliases", [])}
            token = page.get("next_page_token")
            if not token:
                return out

    def versions(self, models: Iterable[str]) -> dict[tuple[str, int], VersionInfo]:
        """Every version of the given models, one request for all names where the server allows it."""
        names = sorted(set(models))
        out: dict[tuple[str, int], VersionInfo] = {}
        for info in self._search_versions(names):
            out[(info.model, info.version)] = info
        return out

    def _search_versions(self, names: list[str]) -> Iterator[VersionInfo]:
        if not names:
            return
        quoted = ", ".join("'" + n.replace("'", "\\'") + "'" for n in names)
        token = None
        while True:
            params: dict[str, Any] = {"filter": f"name IN ({quoted})", "max_results": 10_000}
            if token:
                params["page_token"] = token
            try:
                page = self._request("GET", "model-versions/search", params=params) or {}
            except UrlTooLong:
                if len(names) == 1:
                    raise
                half = len(names) // 2
                yield from self._search_versions(names[:half])
                yield from self._search_versions(names[half:])
                return
            for v in page.get("model_versions", []):
                yield version_info(v)
            token = page.get("next_page_token")
            if not token:
                return

    def version(self, model: str, version: int) -> VersionInfo | None:
        params = {"name": model, "version": str(version)}
        found = self._request("GET", "model-versions/get", params=params, missing_ok=True)
        return version_info(found["model_version"]) if found else None

    def download_uri(self, model: str, version: int) -> str:
        """Where the version's artefacts are stored (what `models:/NAME/VERSION` resolves to on this server)."""
        found = self._request("GET", "model-versions/get-download-uri", params={"name": model, "version": str(version)})
        return str((found or {}).get("artifact_uri", ""))

    def run(self, run_id: str) -> dict[str, Any] | None:
        """The run as MLflow returns it: {"info": ..., "data": {"metrics": [...], "params": [...], "tags": [...]}}."""
        found = self._request("GET", "runs/get", params={"run_id": run_id}, missing_ok=True)
        return found["run"] if found else None

    def registered_model(self, name: str) -> RegisteredModel | None:
        """The registered model `name` (its tags and aliases), None when there is none."""
        found = self._request("GET", "registered-models/get", params={"name": name}, missing_ok=True)
        return registered_model(found["registered_model"]) if found else None

    # -- artefacts: `kind` "run" (runs:/<id>/...) or "logged" (models:/<logged-model-id>/...) -------------

    def list_artifacts(self, kind: str, ident: str, path: str) -> list[dict[str, Any]]:
        """One directory's entries: {"path", "is_dir", "file_size"} each."""
        if kind == "run":
            params = {"run_id": ident, **({"path": path} if path else {})}
            page = self._request("GET", "artifacts/list", params=params) or {}
        else:
            params = {"artifact_directory_path": path} if path else {}
            page = self._request("GET", f"logged-models/{ident}/artifacts/directories", params=params) or {}
        return list(page.get("files", []))

    def stream_artifact(self, kind: str, ident: str, path: str, chunk: int) -> Iterator[bytes]:
        """The content of one artefact file, `chunk` bytes at a time (one read)."""
        root = self.tracking_uri
        if kind == "run":
            url, params = f"{root}/get-artifact", {"run_id": ident, "path": path}
        else:
            url = f"{root}/ajax-api/2.0/mlflow/logged-models/{ident}/artifacts/files"
            params = {"artifact_file_path": path}
        with self._send("GET", url, f"artefact {path}", params=params, stream=True) as resp:
            if resp.status_code != 200:
                raise OperationFailed(f"cannot read artefact '{path}' of {kind} {ident}: HTTP {resp.status_code}")
            yield from resp.iter_content(chunk)

    # -- writes ----------------------------------------------------------------------------

    def set_alias(self, model: str, alias: str, version: int) -> None:
        self._request("POST", "registered-models/alias", body={"name": model, "alias": alias, "version": str(version)})

    def delete_alias(self, model: str, alias: str) -> None:
        self._request("DELETE", "registered-models/alias", body={"name": model, "alias": alias})

    def create_model(self, model: str) -> bool:
        """Register `model`; False when it exists already."""
        try:
            self._request("POST", "registered-models/create", body={"name": model})
        except Conflict:
            return False
        return True

    def create_version(
        self,
        model: str,
        source: str,
        *,
        run_id: str = "",
        tags: Mapping[str, str] | None = None,
        run_link: str = "",
        description: str = "",
    ) -> VersionInfo:
        """A new version of `model` (model-versions/create): what `MlflowClient.copy_model_version` sends."""
        body: dict[str, Any] = {"name": model, "source": source, "description": description}
        if run_id:
            body["run_id"] = run_id
        if run_link:
            body["run_link"] = run_link
        body["tags"] = [{"key": k, "value": v} for k, v in (tags or {}).items()]
        created = self._request("POST", "model-versions/create", body=body) or {}
        return version_info(created["model_version"])

    def set_version_tag(self, model: str, version: int, key: str, value: str) -> None:
        self._request(
            "POST", "model-versions/set-tag", body={"name": model, "version": str(version), "key": key, "value": value}
        )

    def log_artifact(self, run_id: str, local_path: Path, artifact_path: str) -> None:
        """Upload one file into the run's artefacts under `artifact_path` ("" for the run's root).

        Through MLflow's own client: an upload goes to whatever artifact store the run uses.
        """
        from mlflow import MlflowClient  # deferred: the client's upload knows every artefact store

        with self._count:
            self.writes += 1
        try:
            MlflowClient(tracking_uri=self.tracking_uri).log_artifact(run_id, str(local_path), artifact_path or None)
        except Exception as exc:  # noqa: BLE001 - mlflow raises many types; all mean "not stored"
            raise OperationFailed(f"cannot store {local_path.name} in the artefacts of run {run_id}: {exc}") from None

    # -- registered models as records (the apply lock, modelpins.registry_mutex) ---------------------------

    def create_registered_model(self, name: str, tags: Mapping[str, str], description: str = "") -> bool:
        """Create `name` with `tags`; False when it exists already (creation is atomic in MLflow)."""
        body = {"name": name, "tags": [{"key": k, "value": v} for k, v in tags.items()], "description": description}
        try:
            self._request("POST", "registered-models/create", body=body)
        except Conflict:
            return False
        except NotFound:
            # MLflow's answer to a create whose insert hit an existing name is that model read back; deleted in
            # between (a lock released at that moment), the read says RESOURCE_DOES_NOT_EXIST. Nothing was created.
            return False
        return True

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._request("POST", "registered-models/set-tag", body={"name": name, "key": key, "value": value})

    def delete_registered_model(self, name: str) -> None:
        """Delete `name`; nothing happens when it does not exist."""
        self._request("DELETE", "registered-models/delete", body={"name": name}, missing_ok=True)


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    tags: Mapping[str, str]
    aliases: Mapping[str, int]


def registered_model(m: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=m["name"],
        tags={t["key"]: t.get("value", "") for t in m.get("tags", [])},
        aliases={a["alias"]: int(a["version"]) for a in m.get("aliases", [])},
    )


def version_info(v: Mapping[str, Any]) -> VersionInfo:
    return VersionInfo(
        model=v["name"],
        version=int(v["version"]),
        status=v.get("status", "READY"),
        run_id=v.get("run_id", "") or "",
        source=v.get("source", "") or "",
        description=v.get("description", "") or "",
        tags={t["key"]: t.get("value", "") for t in v.get("tags", [])},
        created_ms=int(v.get("creation_timestamp", 0) or 0),
        run_link=v.get("run_link", "") or "",
    )


def _credentials(env: Mapping[str, str], tracking_uri: str) -> dict[str, str]:
    out = {name: env[name] for name in CREDENTIALS if env.get(name)}
    info = userinfo(tracking_uri)
    if info and "MLFLOW_TRACKING_TOKEN" not in out and "MLFLOW_TRACKING_USERNAME" not in out:
        user, _, password = info.partition(":")
        out["MLFLOW_TRACKING_USERNAME"], out["MLFLOW_TRACKING_PASSWORD"] = unquote(user), unquote(password)
    return out


def environment_env(environment: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables an environment's own MLflow server is reached with: each MLFLOW_TRACKING_* setting
    read from MODELPINS_ENV_<ENVIRONMENT>_MLFLOW_TRACKING_* (environment name upper-cased, '-' as '_').

    Nothing falls back to the unprefixed variables, so one server's token never goes to another's.
    """
    env = os.environ if env is None else env
    prefix = env_prefix(environment)
    out = {k: v for k, v in env.items() if k.startswith("MODELPINS_HTTP_")}
    for name in CREDENTIALS:
        if env.get(prefix + name):
            out[name] = env[prefix + name]
    return out


def env_prefix(environment: str) -> str:
    return "MODELPINS_ENV_" + environment.upper().replace("-", "_") + "_"


CREDENTIALS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
)
