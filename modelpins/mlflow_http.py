"""How the MLflow adapter (modelpins.registry) speaks HTTP: which answers are retried and how, and which
modelpins error each failing answer becomes. No endpoint is named here; the adapter names them all."""

from __future__ import annotations

from typing import Any

from modelpins.errors import OperationFailed

RETRY_STATUSES = {429, 500, 502, 503, 504}


class NotFound(OperationFailed):
    """The registry has no such model or version."""


class Rejected(OperationFailed):
    """The registry refused the request as invalid (HTTP 400, e.g. a name it does not accept): a retry cannot help."""


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
    kind = Rejected if resp.status_code == 400 else OperationFailed
    return kind(f"MLflow rejected {endpoint} (HTTP {resp.status_code}): {detail}")
