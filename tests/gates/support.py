"""Seeding and pins-writing shortcuts for the gate tests (all against the real MLflow server)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.helpers.seed import seed_model

REPO = Path(__file__).resolve().parents[2]
GATE_SCRIPTS = REPO / "scripts" / "gates"


def seed(client, name, versions, aliases=None, version_files=None):
    """Register `name` (one run per metrics dict); `version_files[i]` goes into version i+1's `model/` dir."""
    run_ids = seed_model(client, name, versions, aliases or {})
    for run_id, files in zip(run_ids, version_files or [], strict=False):
        for fname, text in files.items():
            client.log_text(run_id, text, f"model/{fname}")
    return run_ids


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def tag(client, model: str, version: int, alias: str) -> dict | None:
    """The gate evidence tag on a version, read back through MLflow's own client."""
    raw = client.get_model_version(model, str(version)).tags.get(f"modelpins.gates.{alias}")
    return None if raw is None else json.loads(raw)
