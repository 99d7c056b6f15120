"""Credentials never leave the process: one function that removes them from any text shown or written.

Two kinds are removed: the user-info part of URLs (`https://user:password@host` becomes
`https://***@host`), and the values of the credential variables modelpins reads
(MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_PASSWORD, GITHUB_TOKEN, MODELPINS_TEAMS_TOKEN,
MODELPINS_WEBHOOK_SECRET, and each environment's MODELPINS_ENV_<ENV>_MLFLOW_TRACKING_TOKEN
and _PASSWORD) together with the user-info of MLFLOW_TRACKING_URI, wherever they appear, also with
zero-width characters put between their letters (GitHub masks a secret only where it
appears exactly). Where the tracking URI itself is a secret (the workflows hold it as one, and
a PR comment posted through the API is not masked by Actions), MODELPINS_TRACKING_URI_LABEL
names the registry instead: the URI, its host and port, and its host are shown as that label.
Every output boundary calls `redact`: the CLI's stdout and stderr,
GitHub annotations, step outputs and job summaries, and the files commands write
(PR comment, model card, markdown reports). Links are built with `public_url`.

`without_credentials` is the other half: the environment a child process (a gate script)
starts from, with every credential and registry setting removed; a gate is given back only
those of the registry it evaluates, when it asks for them (modelpins.gates.command).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

MASK = "***"
SECRET_VARS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "GITHUB_TOKEN",
    "MODELPINS_TEAMS_TOKEN",
    "MODELPINS_WEBHOOK_SECRET",
)
ENV_SECRET = re.compile(r"MODELPINS_ENV_\w+_MLFLOW_TRACKING_(TOKEN|PASSWORD)", re.ASCII)  # an environment's own server
URI_VARS = ("MLFLOW_TRACKING_URI",)
LABEL_VAR = "MODELPINS_TRACKING_URI_LABEL"  # set: the tracking URI is a secret, shown as this label
# never inherited by a gate: credentials, and the settings that say which server with which identity
CHILD_DROPS = re.compile(r"MLFLOW_TRACKING_\w+|MODELPINS_ENV_\w+|GITHUB_TOKEN|MODELPINS_\w*(TOKEN|SECRET)\w*", re.ASCII)
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_GAP = f"[{INVISIBLE}]*"
# scheme://userinfo@ : userinfo is everything up to the last '@' before the host part ends
_USERINFO = re.compile(rf"\b([A-Za-z][A-Za-z0-9+.-]*:{_GAP}/{_GAP}/)([^\s/?#@\"'<>()\[\]`|]*)@")
_MIN_SECRET = 4  # shorter values would blank out ordinary words
_registered: set[str] = set()  # URLs given on the command line (--tracking-uri)


def register(url: str | None) -> None:
    """Treat this URL's user-info as a credential too (a --tracking-uri that is not in the environment)."""
    if url:
        _registered.add(url)


def _split(url: str) -> tuple[str, str, str]:
    """(`scheme://`, user-info, the rest) of a URL, by its text alone: a malformed URL never raises here."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", "", url
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    info, at, host = rest[:end].rpartition("@")
    return scheme + sep, info if at else "", (host if at else rest[:end]) + rest[end:]


def userinfo(url: str) -> str:
    """The URL's user-info (`user:password`), "" when it has none."""
    return _split(url)[1]


def public_url(url: str) -> str:
    """The URL without its user-info: what links and messages show."""
    head, info, rest = _split(url)
    return head + rest if info else url


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The values of every credential variable set in `env`."""
    return [v for k, v in env.items() if v and (k in SECRET_VARS or ENV_SECRET.fullmatch(k))]


def without_credentials(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without any credential or registry setting (the start of a gate's environment)."""
    return {k: v for k, v in env.items() if not CHILD_DROPS.fullmatch(k)}


def secrets(env: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> list[str]:
    """The credential values to remove: the variables above, the user-info of tracking URIs, and `extra`."""
    env = os.environ if env is None else env
    found = secret_values(env)
    for url in [*(env.get(v, "") for v in URI_VARS), *_registered, *extra]:
        info = userinfo(url)
        if info:
            user, _, password = info.partition(":")
            found += [info, unquote(info), password, unquote(password)]
    values = {s for s in found if len(s) >= _MIN_SECRET}
    return sorted(values, key=len, reverse=True)


def hidden_uri(env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """[(a form of the tracking URI, the label shown instead)], longest first; [] unless LABEL_VAR is set."""
    env = os.environ if env is None else env
    label, uri = env.get(LABEL_VAR, "").strip(), env.get("MLFLOW_TRACKING_URI", "").strip()
    if not label or "://" not in uri:
        return []
    public = public_url(uri)
    parts = urlsplit(public)
    forms = {uri, public, uri.rstrip("/"), public.rstrip("/"), f"{parts.scheme}://{parts.netloc}", parts.netloc}
    forms.add(parts.hostname or "")
    return sorted(((f, label) for f in forms if len(f) >= _MIN_SECRET), key=lambda x: len(x[0]), reverse=True)


def redact(text: str, values: Iterable[str] | None = None) -> str:
    """`text` with URL user-info and every credential value (default: `secrets()`) replaced by ***,
    and (by default) a secret tracking URI by its label (`hidden_uri`)."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@" if m.group(2) else m.group(0), text)
    for value in secrets() if values is None else values:
        if value and value in text:
            text = text.replace(value, MASK)
        elif value and any(ch in text for ch in INVISIBLE):
            text = re.sub(_GAP.join(map(re.escape, value)), MASK, text)
    for form, label in hidden_uri() if values is None else ():
        text = text.replace(form, label)
    return text


class RedactingStream:
    """A text stream wrapper that redacts every write (the CLI's stdout and stderr)."""

    def __init__(self, stream: object):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))  # type: ignore[attr-defined]
        return len(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
