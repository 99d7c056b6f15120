"""How the MLflow adapter (modelpins.registry) speaks HTTP: which answers are retried and how, and which
modelpins error each failing answer becomes. No endpoint is named here; the adapter names them all."""

from __future__ import annotations

import re
from typing import Any

from modelpins.errors import OperationFailed

RETRY_STATUSES = {429, 500, 502, 503, 504}
# The oldest MLflow tracking server modelpins supports: the registry's aliases (2.3) answered by
# registered-models/search, and the client floor of pyproject (mlflow-skinny>=2.9). Tested on 3.17.
MIN_SERVER = (2, 9, 0)


class NotFound(OperationFailed):
    """The registry has no such model or version."""


class Conflict(OperationFailed):
    """The registry already has what we tried to create (RESOURCE_ALREADY_EXISTS)."""


def retry_policy(retries: int, backoff: float) -> Any:
    """urllib3's Retry for every method: `retries` more tries on a connection error, a timeout or a
    status in RETRY_STATUSES, sleeping backoff * 2**(n - 1) seconds (at most 30) before the n-th."""
    from urllib3.util.retry import Retry

    class Backoff(Retry):
        def get_backoff_time(self) -> float:
            n = len(self.history)
            return min(self.backoff_factor * 2 ** (n - 1), 30.0) if n else 0.0

    return Backoff(
        total=retries,
        allowed_methods=None,  # writes too: each is idempotent (set an alias, a tag), creation answers a conflict
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        raise_on_status=False,  # the last answer comes back and is reported as such
        respect_retry_after_header=False,
    )


class UrlTooLong(OperationFailed):
    pass


def http_error(resp: Any, endpoint: str) -> OperationFailed:
    if resp.status_code in (414, 431):
        return UrlTooLong(f"request to {endpoint} too long for the server (HTTP {resp.status_code})")
    try:
        body = resp.json()
        detail = f"{body.get('error_code', '')}: {body.get('message', '')}".strip(": ")
    except ValueError:
        detail = resp.text[:200]
    if resp.status_code in (401, 403):
        return OperationFailed(
            f"MLflow refused {endpoint} (HTTP {resp.status_code}, {detail}); "
            "check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD"
        )
    if resp.status_code == 404:
        return NotFound(f"MLflow: {detail}")
    if detail.startswith("RESOURCE_ALREADY_EXISTS"):
        return Conflict(f"MLflow: {detail}")
    return OperationFailed(f"MLflow rejected {endpoint} (HTTP {resp.status_code}): {detail}")


def too_old(version_text: str, where: str) -> OperationFailed | None:
    """The error for a server whose `/version` answer is older than MIN_SERVER; None when it is new enough
    or says nothing readable (a gateway in front of MLflow may not pass /version: the requests then tell)."""
    found = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", version_text)
    if found is None:
        return None
    version = tuple(int(part or 0) for part in found.groups())
    if version >= MIN_SERVER:
        return None
    need = ".".join(map(str, MIN_SERVER))
    return OperationFailed(
        f"the MLflow server at {where} runs MLflow {version_text.strip()}; modelpins needs {need} or newer "
        "(registered model aliases, listed by registered-models/search). Upgrade the tracking server, or point "
        "--tracking-uri (MLFLOW_TRACKING_URI) at one that is"
    )
