"""The `signature` gate: the candidate's signature bundle verifies against its files, made by the required signer."""

from __future__ import annotations

import os
from pathlib import Path

from modelpins.gates import GateResult, Target
from modelpins.integrity import signing
from modelpins.integrity.artifacts import Reader
from modelpins.pins import Gate
from modelpins.registry import MlflowRegistry, VersionInfo


def required(gate: Gate, base_dir: Path) -> signing.Signer:
    """The gate's signer requirement, its files resolved against the (trusted) pins file's directory."""
    return signing.Signer(
        public_key=base_dir / gate.public_key if gate.public_key else None,
        certificate_chain=tuple(base_dir / c for c in gate.certificate_chain),
        identity=gate.identity,
        issuer=gate.issuer or signing.GITHUB_ISSUER,
    )


def signature(gate: Gate, target: Target) -> GateResult:
    c = target.candidate
    want = required(gate, target.base_dir)
    settings = {k: v for k, v in os.environ.items() if k.startswith("MODELPINS_HTTP_")}
    registry = MlflowRegistry(target.tracking_uri, env={**settings, **target.credentials})
    info = VersionInfo(c.model, c.version, "READY", c.run_id, c.source, tags=dict(c.tags))
    verdict = signing.verify(Reader(registry, target.tracking_uri), info, want)
    shown = verdict.signature.signer if verdict.signature else "unsigned"
    return GateResult(
        gate.name,
        gate.kind,
        verdict.passed,
        None,
        f"signed by {want.describe()}",
        f"v{c.version} signed by {shown}" if verdict.passed else verdict.reason,
        "" if verdict.passed else verdict.reason,
    )
