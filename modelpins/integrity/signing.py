"""Signed versions: a model-signing (OpenSSF) bundle over a version's artefact files.

`sign` downloads the files under the version's source, signs the directory with
`model_signing` (keyless Sigstore, an elliptic-curve private key, or a key with its
certificate) and stores the bundle next to the model files, as the run artefact
`<source path>.sig` (so the model's own files, and their lock digest, are unchanged).
The version tag `modelpins.signature` records where the bundle is, its sha256, the
method and the signer.

`verify` checks a version against a `Signer` requirement (the public key, the
certificate chain, or the Sigstore identity and issuer that must have signed) and
fails closed: no tag, no bundle, a bundle that changed since it was tagged, files that
differ (named), or another signer are each a `Verdict` with the reason.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modelpins.errors import InvalidInput, OperationFailed
from modelpins.integrity.artifacts import RUNS_RE, Reader
from modelpins.registry import MlflowRegistry, VersionInfo
from modelpins.tags import SIGNATURE_TAG

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
METHODS = ("key", "certificate", "sigstore")


@dataclass(frozen=True)
class Signer:
    """Who must have signed: exactly one of a public key, a certificate chain or a Sigstore identity."""

    public_key: Path | None = None
    certificate_chain: tuple[Path, ...] = ()
    identity: str | None = None
    issuer: str = GITHUB_ISSUER

    @property
    def method(self) -> str:
        return "key" if self.public_key else "certificate" if self.certificate_chain else "sigstore"

    def describe(self) -> str:
        if self.public_key:
            return f"{key_fingerprint(self.public_key)} ({self.public_key.name})"
        if self.certificate_chain:
            return "a certificate chained to " + ", ".join(p.name for p in self.certificate_chain)
        return f"{self.identity} (issuer {self.issuer})"


@dataclass(frozen=True)
class Signature:
    """What the version tag says about its signature."""

    bundle: str
    digest: str
    method: str
    signer: str
    at: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "bundle": self.bundle,
            "digest": self.digest,
            "method": self.method,
            "signer": self.signer,
            "at": self.at,
        }


@dataclass(frozen=True)
class Verdict:
    model: str
    version: int
    passed: bool
    reason: str = ""
    signature: Signature | None = None
    files: tuple[str, ...] = field(default=())  # the files that differ from the signed manifest

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"model": self.model, "version": self.version, "passed": self.passed}
        out["signer"] = self.signature.signer if self.signature else None
        if not self.passed:
            out["reason"] = self.reason
        if self.files:
            out["files"] = list(self.files)
        return out

    def __str__(self) -> str:
        who = self.signature.signer if self.signature else "-"
        head = f"{self.model} version {self.version}"
        return f"{head}: signature verified, signed by {who}" if self.passed else f"{head}: {self.reason}"


# -- reading the tag -------------------------------------------------------------------------


def recorded(tags: Mapping[str, str]) -> Signature | None | str:
    """The tag's signature; None when unsigned; a string saying why the tag is unreadable."""
    raw = tags.get(SIGNATURE_TAG)
    if raw is None:
        return None
    try:
        body = json.loads(raw)
        return Signature(
            str(body["bundle"]), str(body["digest"]), str(body["method"]), str(body["signer"]), body.get("at", "")
        )
    except (ValueError, KeyError, TypeError):
        return f"tag {SIGNATURE_TAG} is not a signature record"


def status(tags: Mapping[str, str]) -> str:
    """One phrase for a card or a PR comment: 'signed by ... (method)' or 'unsigned'."""
    found = recorded(tags)
    if found is None:
        return "unsigned"
    if isinstance(found, str):
        return f"unreadable signature ({found})"
    return f"signed by {found.signer} ({found.method}, bundle digest {found.digest[:19]}…)"


def bundle_location(source: str) -> tuple[str, str, str]:
    """(run id, artefact directory, file name) of the bundle for a version whose source is a run's sub-directory."""
    m = RUNS_RE.fullmatch(source)
    path = (m.group(2) or "").strip("/") if m else ""
    if not m or not path:
        raise InvalidInput(
            f"source {source} is not a sub-directory of an MLflow run (runs:/RUN/PATH): the bundle is stored next "
            "to the model files in the run, and stored inside them it would change the artefacts it signs; "
            "register the version from runs:/RUN/model"
        )
    directory, _, name = path.rpartition("/")
    return m.group(1), directory, name + ".sig"


def bundle_uri(source: str) -> str:
    run_id, directory, name = bundle_location(source)
    return f"runs:/{run_id}/{directory + '/' if directory else ''}{name}"


def bundle_digest(reader: Reader, source: str) -> str | None:
    """sha256 of the version's bundle as stored now; None when there is none (or no place for one)."""
    try:
        data = reader.read(*_split(bundle_uri(source)))
    except InvalidInput:
        return None
    return None if data is None else _sha256(data)


# -- signing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """How to sign: a private key (with its certificate and chain for certificate signing), or keyless."""

    private_key: Path | None = None
    certificate: Path | None = None
    chain: tuple[Path, ...] = ()

    @property
    def method(self) -> str:
        return "sigstore" if self.private_key is None else "certificate" if self.certificate else "key"


def sign(registry: MlflowRegistry, reader: Reader, info: VersionInfo, key: Key) -> Signature:
    """Sign the version's files, upload the bundle next to them, tag the version; the tag's content."""
    import model_signing  # deferred: sigstore and cryptography load only to sign or verify

    run_id, directory, name = bundle_location(info.source)
    with tempfile.TemporaryDirectory(prefix="modelpins-sign-") as tmp:
        files, bundle = Path(tmp) / "model", Path(tmp) / name
        reader.download(info.source, files)
        try:
            config = model_signing.signing.Config()
            if key.private_key and key.certificate:
                config.use_certificate_signer(
                    private_key=key.private_key, signing_certificate=key.certificate, certificate_chain=key.chain
                )
            elif key.private_key:
                config.use_elliptic_key_signer(private_key=key.private_key)
            else:  # Sigstore's trust root, then an OIDC token (GitHub Actions' ambient one), Fulcio and Rekor
                config.use_sigstore_signer(use_ambient_credentials=True)
            config.sign(files, bundle)
        except Exception as exc:  # noqa: BLE001 - model_signing and sigstore raise many types
            hint = (
                " (keyless: the job needs `id-token: write` and Sigstore reachable)" if key.method == "sigstore" else ""
            )
            raise OperationFailed(
                f"signing {info.model} version {info.version} failed{hint}: {_reason(exc)}; nothing was stored"
            ) from None
        data = bundle.read_bytes()
        registry.log_artifact(run_id, bundle, directory)
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    sig = Signature(bundle_uri(info.source), _sha256(data), key.method, signer_of(data), at)
    registry.set_version_tag(info.model, info.version, SIGNATURE_TAG, json.dumps(sig.as_json(), sort_keys=True))
    return sig


# -- verifying --------------------------------------------------------------------------------


def verify(reader: Reader, info: VersionInfo, want: Signer) -> Verdict:
    """Whether the version's bundle matches its files and `want` signed it; fails closed with the reason."""

    def refuse(reason: str, sig: Signature | None = None, files: tuple[str, ...] = ()) -> Verdict:
        return Verdict(info.model, info.version, False, reason, sig, files)

    found = recorded(info.tags)
    if found is None:
        return refuse(
            f"unsigned: no tag {SIGNATURE_TAG} on the version; "
            f"sign it with `modelpins sign {info.model}/{info.version}`"
        )
    if isinstance(found, str):
        return refuse(found)
    try:
        expected = bundle_uri(info.source)
    except InvalidInput as exc:
        return refuse(str(exc), found)
    if found.bundle != expected:
        return refuse(f"the tag names bundle {found.bundle}, but this version's bundle is {expected}", found)
    data = reader.read(*_split(expected))
    if data is None:
        return refuse(f"signature bundle {expected} is missing (the tag says the version was signed)", found)
    if _sha256(data) != found.digest:
        return refuse(
            f"signature bundle {expected} changed since signing: {_sha256(data)}, tagged {found.digest}", found
        )
    signer = signer_of(data)
    actual = Signature(found.bundle, found.digest, found.method, signer, found.at)
    if want.public_key and signer != key_fingerprint(want.public_key):
        return refuse(f"signed by another key: {signer}, required {want.describe()}", actual)
    return _verify_files(reader, info, want, data, actual)


def _verify_files(reader: Reader, info: VersionInfo, want: Signer, data: bytes, actual: Signature) -> Verdict:
    """The version's files, downloaded, against the bundle `data` (model_signing's check)."""
    with tempfile.TemporaryDirectory(prefix="modelpins-verify-") as tmp:
        files, bundle = Path(tmp) / "model", Path(tmp) / "bundle.sig"
        bundle.write_bytes(data)
        reader.download(info.source, files)
        try:
            _config(want).verify(files, bundle)
        except Exception as exc:  # noqa: BLE001 - a failed check of any kind refuses (fail closed)
            raw = f"{type(exc).__name__}: {exc}"
            text, differing = readable(raw), differing_files(raw)
            reason = (
                f"artefact files differ from the signature: {', '.join(differing)} ({text})"
                if differing
                else f"signature does not verify against {want.describe()}: {text}"
            )
            return Verdict(info.model, info.version, False, reason, actual, differing)
    return Verdict(info.model, info.version, True, "", actual)


def _config(want: Signer) -> Any:
    import model_signing

    config = model_signing.verifying.Config()
    if want.public_key:
        return config.use_elliptic_key_verifier(public_key=want.public_key)
    if want.certificate_chain:
        return config.use_certificate_verifier(certificate_chain=want.certificate_chain)
    assert want.identity
    return config.use_sigstore_verifier(identity=want.identity, oidc_issuer=want.issuer)


# the quotes may come escaped: model_signing puts its list of differences in the message as a repr
MISMATCH = re.compile(r"Hash mismatch for \\?'([^'\\]+)\\?'")
LISTED = re.compile(r"(?:Extra files found|Missing files) in model \\?'[^']*\\?': ([^\]\"'\\]+)")


def differing_files(message: str) -> tuple[str, ...]:
    """The files model_signing's mismatch message names (changed, added or missing)."""
    names = MISMATCH.findall(message)
    for listed in LISTED.findall(message):
        names += [n.strip() for n in listed.split(",")]
    return tuple(dict.fromkeys(names))


# -- who signed ---------------------------------------------------------------------------------


def key_fingerprint(public_key: Path) -> str:
    """`key sha256:<hex>` of a PEM public key, as model_signing records it in a key-signed bundle."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(public_key.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{public_key}: not a readable PEM public key ({exc})") from None
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "key sha256:" + hashlib.sha256(pem).hexdigest()


def signer_of(bundle: bytes) -> str:
    """Who a bundle says signed it: the key's fingerprint, or the leaf certificate's identity."""
    import base64

    try:
        material = json.loads(bundle).get("verificationMaterial", {})
    except ValueError:
        return "unknown (unreadable bundle)"
    hint = (material.get("publicKey") or {}).get("hint")
    if hint:
        return f"key sha256:{hint}"
    certs = (material.get("x509CertificateChain") or {}).get("certificates") or []
    leaf = material.get("certificate") or (certs[0] if certs else None)
    if not leaf:
        return "unknown"
    return _cert_identity(base64.b64decode(leaf["rawBytes"]))


def _cert_identity(der: bytes) -> str:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]
        names += [str(v) for v in san.get_values_for_type(x509.RFC822Name)]
        if names:
            return names[0]
    except x509.ExtensionNotFound:
        pass
    return cert.subject.rfc4514_string() or "unknown"


def _split(uri: str) -> tuple[str, str]:
    run, _, rel = uri.removeprefix("runs:/").partition("/")
    return f"runs:/{run}", rel


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _reason(exc: BaseException) -> str:
    return readable(f"{type(exc).__name__}: {exc}".strip())


DIGEST_REPR = re.compile(r"""Digest\(algorithm='([\w.-]+)', digest_value=(b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*")\)""")
HASH_MISMATCH = re.compile(r"Hash mismatch for '([^']*)': Expected '([^']*)', Actual '([^']*)'")


def readable(message: str) -> str:
    """model_signing's mismatch text (a Python list of reprs) as `FILE: expected sha256:<hex>, got sha256:<hex>`."""
    head, sep, listed = message.partition("Signature mismatch: ")
    try:
        items = ast.literal_eval(listed) if sep else None
    except (ValueError, SyntaxError):
        items = None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return message

    def hexed(m: re.Match[str]) -> str:
        value = ast.literal_eval(m.group(2))
        return f"{m.group(1)}:{value.hex()}" if isinstance(value, bytes) else m.group(0)

    lines = [DIGEST_REPR.sub(hexed, item) for item in items]
    lines = [HASH_MISMATCH.sub(lambda m: f"{m.group(1)}: expected {m.group(2)}, got {m.group(3)}", x) for x in lines]
    return f"{head}Signature mismatch: {'; '.join(lines)}"
