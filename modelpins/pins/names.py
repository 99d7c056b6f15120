"""The names and values a pins file may hold: their patterns and limits, and the checks built on them.

The schema's fields (`fields`, `gates`, `serving`) publish these patterns in the JSON Schema;
the rest of modelpins checks names read from elsewhere (an imported registry, say) against them.
"""

from __future__ import annotations

import re
from pathlib import PurePath

SCHEMA_VERSION = 1
MAX_VERSION = 2**31 - 1
ALIAS_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")
RESERVED_ALIAS_RE = re.compile(r"latest|v\d+", re.IGNORECASE)
# ASCII only: a look-alike letter (Cyrillic 'а' for Latin 'a') would let a reviewer
# approve a change to a different model than the one they read.
MODEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}")
OWNER_RE = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9._-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+")
K8S_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# Kubernetes resource.Quantity: a plain decimal number with an SI or binary suffix (no sign: a request is >= 0)
QUANTITY_RE = re.compile(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][0-9]+)?", re.ASCII)
# Gateway API hostname: RFC 1123 labels, lower case, an optional leading '*.' wildcard, at most 253 characters
LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
HOSTNAME_RE = re.compile(rf"(\*\.)?{LABEL}(\.{LABEL})*", re.ASCII)
# a Gateway reference '<namespace>/<name>': a namespace label and a DNS-subdomain name
GATEWAY_RE = re.compile(rf"{LABEL}/{LABEL}(\.{LABEL})*", re.ASCII)
# a path prefix: '/'-separated segments, none of them '.' or '..' (a segment may start with a dot: '/.well-known')
SEGMENT = r"([A-Za-z0-9_~-]|\.[A-Za-z0-9_~-]|\.\.[A-Za-z0-9._~-])[A-Za-z0-9._~-]*"
PATH_RE = re.compile(rf"(/{SEGMENT})+")
# an image pinned by its full digest: 'name[:tag]@sha256:' and 64 lower-case hex digits
DIGEST_RE = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")
TRACKING_URI_RE = re.compile(r"([hH][tT][tT][pP][sS]?://|databricks(://)?)[^\s]*")  # a scheme in any case
ANY_ALIAS = "*"

MODEL_KINDS = ("model", "base", "adapter", "prompts")
GATE_KINDS = ("threshold", "safety", "regression", "latency", "command", "signature")
STRATEGIES = ("rolling", "blue-green", "canary", "shadow", "ab")
ARTIFACT_MODES = ("image", "init")


def alias_problem(alias: str) -> tuple[str, str] | None:
    """(message, fix) when `alias` is not a name MLflow accepts, else None."""
    if RESERVED_ALIAS_RE.fullmatch(alias):
        return (
            f"alias '{alias}' is reserved by MLflow ('latest' and 'v<number>' name versions)",
            "choose another name, e.g. 'champion' or 'challenger'",
        )
    if not ALIAS_RE.fullmatch(alias):
        return (f"alias '{alias[:80]}' is not allowed", "use 1 to 255 ASCII letters, digits, '_' or '-'")
    return None


GATE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def default_gate_name(kind: str, run: tuple[str, ...], metric: str | None) -> str:
    """threshold-accuracy, latency-latency_p99_ms, eval_suite (a command's script), ..."""
    if run:
        script = next((a for a in run if a.endswith((".py", ".sh", ".R", ".js", ".rb"))), run[0])
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", PurePath(script).stem)[:48] or "command"
        return stem if kind == "command" else f"{kind}-{stem}"
    name = f"{kind}-{metric}" if isinstance(metric, str) else kind
    return name[:64] if GATE_NAME_RE.fullmatch(name[:64]) else kind
