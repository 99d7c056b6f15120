"""Credentials never leave the process: one function that removes them from any text shown or written.

Two kinds are removed: the user-info part of URLs (`https://user:password@host` becomes
`https://***@host`), and the values of the credential variables modelpins reads
(MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_PASSWORD, GITHUB_TOKEN, MODELPINS_TEAMS_TOKEN)
together with the user-info of MLFLOW_TRACKING_URI, wherever they appear, also with
zero-width characters put between their letters (GitHub masks a secret only where it
appears exactly). Where the tracking URI itself is a secret (the workflows hold it as one, and
a PR comment posted through the API is not masked by Actions), MODELPINS_TRACKING_URI_LABEL
names the registry instead: the URI, its host and port, and its host are shown as that label.
Every output boundary calls `redact`: the CLI's stdout and stderr,
GitHub annotations, step outputs and job summaries, and the files commands write
(PR comment, model card, markdown reports). Links are built with `public_url`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
SECRET_VARS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "GITHUB_TOKEN", "MODELPINS_TEAMS_TOKEN")
URI_VARS = ("MLFLOW_TRACKING_URI",)
LABEL_VAR = "MODELPINS_TRACKING_URI_LABEL"  # set: the tracking URI is a secret, shown as this label
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


def public_url(url: str) -> str:
    """The URL without its user-info: what links and messages show."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def secrets(env: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> list[str]:
    """The credential values to remove: the variables above, the user-info of tracking URIs, and `extra`."""
    env = os.environ if env is None else env
    found = [env.get(v, "") for v in SECRET_VARS]
    for url in [*(env.get(v, "") for v in URI_VARS), *_registered, *extra]:
        netloc = urlsplit(url).netloc if "://" in url else ""
        if "@" in netloc:
            info = netloc.rpartition("@")[0]
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
