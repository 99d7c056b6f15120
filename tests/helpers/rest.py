"""Seed and read a real MLflow server through its REST API: fast enough for hundreds of models.

Versions get `s3://` sources, which MLflow marks READY at once without a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import requests

API = "/api/2.0/mlflow/"


def call(url: str, method: str, endpoint: str, **kw: object) -> dict[str, object]:
    resp = requests.request(method, url.rstrip("/") + API + endpoint, timeout=30, **kw)  # type: ignore[arg-type]
    resp.raise_for_status()
    return dict(resp.json()) if resp.content else {}


def seed(url: str, names: Iterable[str], versions: int, aliases: Mapping[str, int]) -> None:
    with requests.Session() as s:
        for name in names:
            for endpoint, body in [("registered-models/create", {"name": name})] + [
                ("model-versions/create", {"name": name, "source": f"s3://test/{name}/{n}"})
                for n in range(1, versions + 1)
            ]:
                s.post(url + API + endpoint, json=body, timeout=30).raise_for_status()
            for alias, version in aliases.items():
                body = {"name": name, "alias": alias, "version": str(version)}
                s.post(url + API + "registered-models/alias", json=body, timeout=30).raise_for_status()


def state(url: str, names: Iterable[str]) -> dict[str, dict[str, int]]:
    """{model: {alias: version}} as the server holds it now."""
    out = {}
    for name in names:
        model = call(url, "GET", "registered-models/get", params={"name": name})["registered_model"]
        out[name] = {a["alias"]: int(a["version"]) for a in model.get("aliases", [])}  # type: ignore[index,union-attr]
    return out


def version_exists(url: str, name: str, version: int) -> bool:
    resp = requests.get(url + API + "model-versions/get", params={"name": name, "version": str(version)}, timeout=30)
    return resp.status_code == 200


def delete_version(url: str, name: str, version: int) -> None:
    call(url, "DELETE", "model-versions/delete", json={"name": name, "version": str(version)})


def lock_holder(url: str) -> dict[str, str] | None:
    """The apply lock's tags (without the 'modelpins.lock.' prefix), or None when nobody holds it."""
    resp = requests.get(url + API + "registered-models/get", params={"name": "modelpins.lock"}, timeout=30)
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    tags = resp.json()["registered_model"].get("tags", [])
    return {t["key"].removeprefix("modelpins.lock."): t["value"] for t in tags}
