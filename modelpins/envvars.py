"""Environment variables are input: each one modelpins reads is parsed and checked here.

A bad value is an InvalidInput (exit 2) naming the variable, its value (never for a secret)
and what is allowed; an unset or empty variable means its default.

| variable                          | allowed                                  | default |
| --------------------------------- | ---------------------------------------- | ------- |
| MODELPINS_HTTP_RETRIES            | whole number 0 to 20                     | 3       |
| MODELPINS_HTTP_BACKOFF            | seconds, 0 to 60                         | 0.5     |
| MODELPINS_HTTP_TIMEOUT            | seconds, 0.1 to 600                      | 30      |
| MODELPINS_LOCK_TTL                | seconds, 30 to 86400                     | 600     |
| MODELPINS_LOCK_VERIFY             | full, size, off                          | full    |
| MODELPINS_WEBHOOK_SECRET          | 16 to 1024 printable ASCII characters    | -       |
| MODELPINS_ACTOR                   | 1 to 200 characters, no control ones     | -       |
| MODELPINS_COMMIT, GITHUB_SHA      | a git commit: 7 to 64 hex digits         | -       |
| MODELPINS_PR                      | a pull request number, 1 to 10^9         | -       |
| GITHUB_RUN_ID                     | digits                                   | -       |
| GITHUB_REPOSITORY                 | OWNER/NAME                               | -       |
| GITHUB_API_URL, GITHUB_SERVER_URL | an http(s) URL without spaces            | github  |
| MLFLOW_TRACKING_INSECURE_TLS      | true, false                              | false   |
| MLFLOW_TRACKING_SERVER_CERT_PATH  | a readable file                          | -       |
| MLFLOW_TRACKING_CLIENT_CERT_PATH  | a readable PEM file: client cert and key | -       |
| MLFLOW_TRACKING_URI, --tracking-uri | an http(s) URL: a host, a port 1 to    | -       |
|                                   | 65535, no spaces or control characters   |         |
| MLFLOW_TRACKING_TOKEN, _USERNAME, | printable, no spaces or control chars    | -       |
| _PASSWORD, GITHUB_TOKEN, ...      | (values never shown)                     |         |

An environment with a server of its own (`environments.<env>.registry.tracking_uri`) reads the same
`MLFLOW_TRACKING_*` settings from `MODELPINS_ENV_<ENV>_MLFLOW_TRACKING_*` (modelpins.registry.environment_env).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from modelpins.errors import InvalidInput
from modelpins.redact import public_url

DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)
COMMIT = re.compile(r"[0-9a-fA-F]{7,64}", re.ASCII)
# OWNER starts with a letter or digit (so never '.' or '..'); NAME is never '.' or '..': no path can climb out
REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}/(?!\.\.?$)[A-Za-z0-9_.-]{1,100}", re.ASCII)
TOKEN = re.compile(r"[\x21-\x7e]{1,4096}", re.ASCII)  # printable ASCII, no space: it goes into an HTTP header
HTTP_URL = re.compile(r"https?://[\x21-\x7e]{1,2000}", re.ASCII)
SECRET = re.compile(r"[\x20-\x7e]{16,1024}", re.ASCII)


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _bad(name: str, value: str, allowed: str, secret: bool = False) -> InvalidInput:
    shown = "(value not shown)" if secret else repr(value[:60])
    return InvalidInput(f"{name}={shown} is not allowed: {allowed}; fix: set it to a value in range, or unset it")


def number(
    name: str, default: float, lo: float, hi: float, env: Mapping[str, str] | None = None, whole: bool = False
) -> float:
    """A plain decimal number within [lo, hi]; `default` when unset or empty."""
    value = _env(env).get(name, "").strip()
    if not value:
        return default
    kind = "a whole number" if whole else "a number of seconds"
    allowed = f"{kind} from {lo:g} to {hi:g} (default {default:g})"
    if not DECIMAL.fullmatch(value) or (whole and "." in value) or not lo <= float(value) <= hi:
        raise _bad(name, value, allowed)
    return float(value)


def integer(name: str, default: int, lo: int, hi: int, env: Mapping[str, str] | None = None) -> int:
    return int(number(name, default, lo, hi, env, whole=True))


def choice(name: str, default: str, choices: tuple[str, ...], env: Mapping[str, str] | None = None) -> str:
    value = _env(env).get(name, "").strip().lower()
    if not value:
        return default
    if value not in choices:
        raise _bad(name, value, f"one of {', '.join(choices)} (default {default})")
    return value


def text(
    name: str, env: Mapping[str, str] | None = None, pattern: re.Pattern[str] | None = None, what: str = ""
) -> str | None:
    """The variable's value when set and matching `pattern` (default: 1 to 200 characters, no control ones)."""
    value = _env(env).get(name, "")
    if not value:
        return None
    if pattern is None:
        ok = len(value) <= 200 and value.isprintable()
        what = what or "1 to 200 characters, none of them control characters"
    else:
        ok = bool(pattern.fullmatch(value))
    if not ok:
        raise _bad(name, value, what)
    return value


def secret(name: str, env: Mapping[str, str] | None = None, pattern: re.Pattern[str] = TOKEN) -> str | None:
    """A credential: checked like text, but its value is never shown in an error."""
    value = _env(env).get(name, "")
    if not value:
        return None
    if not pattern.fullmatch(value):
        allowed = "printable ASCII without spaces" if pattern is TOKEN else "16 to 1024 printable ASCII characters"
        raise _bad(name, value, allowed, secret=True)
    return value


def readable_file(name: str, env: Mapping[str, str] | None = None, what: str = "a CA bundle") -> str | None:
    value = _env(env).get(name, "")
    if not value:
        return None
    if not os.path.isfile(value) or not os.access(value, os.R_OK):
        raise _bad(name, value, f"the path of a readable file ({what})")
    return value


def url_problem(value: str) -> str | None:
    """What is wrong with `value` as a tracking server's URL (http or https, any case), None when nothing is."""
    if any(c.isspace() or not c.isprintable() for c in value):
        return "it contains a space or a control character (a line break, a trailing space?)"
    scheme, sep, _ = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return "it is not an http(s) URL; modelpins talks to an MLflow tracking server"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"it is not a URL ({str(exc).lower()})"
    if not parts.hostname:
        return "it names no host"
    if port == 0:
        return "port 0 is not a port a server listens on"
    return None


def tracking_uri(value: str, source: str) -> str:
    """`value` (from `source`: an option or a variable) as a checked http(s) URL, its scheme in lower case.

    An InvalidInput (exit 2) names `source` and what is wrong; the URL's user-info is never shown.
    """
    problem = url_problem(value)
    if problem:
        shown = repr(public_url(value)[:200])
        raise InvalidInput(
            f"{source}={shown} is not allowed: {problem}; fix: give the server as http(s)://HOST[:PORT][/PATH]"
        )
    scheme, _, rest = value.partition("://")
    return scheme.lower() + "://" + rest
