"""sign and verify: thin commands over modelpins.integrity.signing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelpins import pins
from modelpins.completion import complete_target
from modelpins.errors import GateFailed, InvalidInput
from modelpins.registry import MlflowRegistry, VersionInfo
from modelpins.settings import Settings

if TYPE_CHECKING:
    from modelpins.integrity.signing import Signer

PEM = click.Path(exists=True, dir_okay=False, path_type=Path)


def version_of(s: Settings, registry: MlflowRegistry, target: str) -> VersionInfo:
    """MODEL/VERSION, or MODEL@ALIAS as the pins file pins it; the registry's version."""
    model, slash, number = target.rpartition("/")
    if slash and model and number.isdigit():
        version = int(number)
    else:
        from modelpins.provenance.lineage import resolve
        from modelpins.text import parse_target

        model, alias = parse_target(target)
        assert alias is not None
        version = resolve(pins.load(s.pins), model, alias)
    info = registry.version(model, version)
    if info is None:
        raise InvalidInput(f"version {version} of '{model}' does not exist in MLflow")
    return info


@click.command()
@click.argument("target", shell_complete=complete_target)
@click.option("--key", type=PEM, help="EC private key (PEM) to sign with; without it, keyless Sigstore in Actions.")
@click.option("--certificate", type=PEM, help="The key's signing certificate (PEM): certificate signing.")
@click.option("--chain", type=PEM, multiple=True, help="Intermediate and root certificates (PEM), repeatable.")
@click.option("--keyless", is_flag=True, help="Sigstore keyless signing outside GitHub Actions (opens a browser).")
@click.option("--json", "as_json", is_flag=True, help="Print the signature record as JSON.")
@click.pass_obj
def sign(
    s: Settings,
    target: str,
    key: Path | None,
    certificate: Path | None,
    chain: tuple[Path, ...],
    keyless: bool,
    as_json: bool,
) -> None:
    """Sign the artefacts of MODEL@ALIAS or MODEL/VERSION; store the bundle next to them and tag its digest."""
    from modelpins.integrity import signing
    from modelpins.integrity.artifacts import Reader

    if (certificate or chain) and not key:
        raise InvalidInput("--certificate and --chain need --key, the certificate's private key")
    if key and keyless:
        raise InvalidInput("--keyless signs with Sigstore, not a key: give one of --key or --keyless")
    if not key and not keyless and os.environ.get("GITHUB_ACTIONS") != "true":
        raise InvalidInput(
            "no signing key: pass --key PATH (an EC private key, PEM; with --certificate for certificate signing), "
            "or --keyless for Sigstore; in GitHub Actions keyless is the default (the job needs `id-token: write`)"
        )
    registry = s.registry()
    info = version_of(s, registry, target)
    signing.bundle_location(info.source)  # refuses a source the bundle cannot sit next to, before any work
    sig = signing.sign(registry, Reader(registry, s.tracking_uri or ""), info, signing.Key(key, certificate, chain))
    if as_json:
        click.echo(json.dumps({"model": info.model, "version": info.version, **sig.as_json()}, indent=2))
        return
    click.echo(f"signed {info.model} version {info.version} ({sig.method}) as {sig.signer}")
    click.echo(f"bundle {sig.bundle} ({sig.digest}); version tag {signing.SIGNATURE_TAG}")


@click.command()
@click.argument("target", shell_complete=complete_target)
@click.option("--key", "public_key", type=PEM, help="The public key (PEM) that must have signed.")
@click.option("--certificate-chain", type=PEM, multiple=True, help="Certificates (PEM) the signer must chain to.")
@click.option("--identity", help="Keyless: the identity that must have signed (a workflow URL, an email).")
@click.option("--issuer", default=None, help="Keyless: the OIDC issuer (default GitHub Actions').")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.pass_obj
def verify(
    s: Settings,
    target: str,
    public_key: Path | None,
    certificate_chain: tuple[Path, ...],
    identity: str | None,
    issuer: str | None,
    as_json: bool,
) -> None:
    """Check the signature of MODEL@ALIAS (or MODEL/VERSION); without options, against the alias's signature gates."""
    from modelpins.integrity import signing
    from modelpins.integrity.artifacts import Reader

    given = [x for x in (public_key, certificate_chain, identity) if x]
    if len(given) > 1:
        raise InvalidInput("give one of --key, --certificate-chain or --identity: who must have signed")
    if issuer and not identity:
        raise InvalidInput("--issuer applies to keyless verification: give --identity too")
    registry = s.registry()
    info = version_of(s, registry, target)
    if given:
        wanted = [signing.Signer(public_key, certificate_chain, identity, issuer or signing.GITHUB_ISSUER)]
    else:
        wanted = gate_signers(s, info.model, target)
    reader = Reader(registry, s.tracking_uri or "")
    verdicts = [signing.verify(reader, info, want) for want in wanted]
    if as_json:
        click.echo(json.dumps({"verdicts": [v.as_json() for v in verdicts]}, indent=2))
    else:
        for v in verdicts:
            click.echo(str(v))
    failed = [v for v in verdicts if not v.passed]
    if failed:
        raise GateFailed(f"{len(failed)} of {len(verdicts)} signature check{'s' if len(verdicts) != 1 else ''} failed")


def gate_signers(s: Settings, model: str, target: str) -> list[Signer]:
    """The signers the signature gates of MODEL@ALIAS require (InvalidInput when there are none)."""
    from modelpins.gates.signature import required

    _, at, alias = target.partition("@")
    p = pins.load(s.pins)
    gates = [g for g in p.gates_for(model, alias) if g.kind == "signature"] if at and model in p.models else []
    if not gates:
        raise InvalidInput(
            f"no signature gate guards {target} in {s.pins}: say who must have signed with --key, "
            "--certificate-chain or --identity"
        )
    base = Path(p.path).resolve().parent
    return [required(g, base) for g in gates]
