"""Make registered models, versions and runs in a real MLflow server."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mlflow import MlflowClient

from devkit import devserver


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def seed_model(client: MlflowClient, name: str, versions=3, aliases=None, **kw) -> list[str]:
    """Register `name` in the test server (see devkit.devserver.seed_model)."""
    return devserver.seed_model(client.tracking_uri, name, versions, dict(aliases or {}), **kw)


def alias_state(client: MlflowClient, names: Sequence[str]) -> dict[str, dict[str, int]]:
    """What the server holds now, read back through MLflow's own client."""
    return {n: {a: int(v) for a, v in client.get_registered_model(n).aliases.items()} for n in names}


def audit(client: MlflowClient, model: str, version: int | str, alias: str = "champion") -> dict:
    """The newest audit record for `alias` on the version (read back through MLflow's own client)."""
    from modelpins.audit.records import audit_entries

    records = audit_entries(client.get_model_version(model, str(version)).tags, alias)
    assert records, f"no audit record for {alias} on {model} v{version}"
    return records[-1][1]


def write_pins(path: Path, models: Mapping[str, Mapping[str, int]], extra: str = "") -> Path:
    lines = ["version: 1", "models:"]
    for model, aliases in models.items():
        lines += [f"  {model}:", "    aliases:"]
        lines += [f"      {alias}: {version}" for alias, version in aliases.items()]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def log_sklearn(tracking_uri: str, name: str) -> tuple[Any, np.ndarray]:
    import mlflow
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.5], [3.0, 0.5], [0.5, 3.0], [2.5, 2.0]])
    y = np.array([0, 0, 1, 1, 0, 1])
    model = LogisticRegression().fit(x, y)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("modelpins-artefacts")
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", registered_model_name=name)
    return model, x
