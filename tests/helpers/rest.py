"""Seed and read a real MLflow server through its REST API: fast enough for hundreds of models.

Versions get `s3://` sources, which MLflow marks READY at once without a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import requests

API = "/api/2.0/mlflow/"


def call(url: str, method: str, endpoint: str, **kw: Any) -> dict[str, Any]:
    resp = requests.request(method, url.rstrip("/") + API + endpoint, timeout=30, **kw)
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
        out[name] = {a["alias"]: int(a["version"]) for a in model.get("aliases", [])}
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


def bulk_seed(store_db: Path, names: Iterable[str], aliases: Mapping[str, int]) -> None:
    """Register many models at once, `max(aliases)` READY versions each, in one transaction on the server's store.

    Through the REST API each model costs a few requests that each commit to sqlite on their
    own (~30 models/s here); this writes the same rows with MLflow's own store models, so a
    test can build a registry of thousands of models in about a second and then read it
    through the real server, as the tool does.
    """
    import time

    from mlflow.store.model_registry.dbmodels.models import (
        SqlModelVersion,
        SqlRegisteredModel,
        SqlRegisteredModelAlias,
    )
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{store_db}")
    now = int(time.time() * 1000)
    with store.ManagedSessionMaker(read_only=False) as session:
        for name in names:
            session.add(SqlRegisteredModel(name=name, creation_time=now, last_updated_time=now))
            for n in range(1, max(aliases.values(), default=1) + 1):
                session.add(
                    SqlModelVersion(
                        name=name,
                        version=n,
                        creation_time=now,
                        last_updated_time=now,
                        source=f"s3://test/{name}/{n}",
                        status="READY",
                        current_stage="None",
                    )
                )
            for alias, version in aliases.items():
                session.add(SqlRegisteredModelAlias(name=name, alias=alias, version=version))
