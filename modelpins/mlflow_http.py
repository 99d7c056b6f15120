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
SERVER_FIX = "point --tracking-uri (MLFLOW_TRACKING_URI) at one that is"  # an older server's message


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


def transport(retries: int, backoff: float, pool: int) -> Any:
    """requests' adapter for the registry: `pool` kept-alive connections, `retry_policy`, and on Linux an
    immediate ACK of each answer's first packet (TCP_QUICKACK, set after the request is sent).

    Why: `mlflow server` with several workers (uvicorn's default of 4) writes an answer's headers and its
    body separately on a socket without TCP_NODELAY, so the body waits, by Nagle's rule, for the ACK of the
    headers, which a kept-alive client delays by 40 ms: 56 ms per request instead of 14 (bench/RESULTS.md).
    A new connection per request avoids it too, but costs a handshake (and TLS's) each time."""
    import contextlib
    import socket

    import requests
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    quickack = getattr(socket, "TCP_QUICKACK", None)  # Linux only; elsewhere the default is kept

    def ack_now(conn: Any) -> None:
        sock = getattr(conn, "sock", None)
        if quickack is not None and sock is not None:
            with contextlib.suppress(OSError):  # not a TCP socket (a test's, a unix one): nothing to speed up
                sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)

    class QuickAck(HTTPConnection):
        def getresponse(self) -> Any:
            ack_now(self)
            return super().getresponse()

    class QuickAckTLS(HTTPSConnection):
        def getresponse(self) -> Any:
            ack_now(self)
            return super().getresponse()

    class Pool(HTTPConnectionPool):
        ConnectionCls = QuickAck

    class PoolTLS(HTTPSConnectionPool):
        ConnectionCls = QuickAckTLS

    adapter = requests.adapters.HTTPAdapter(
        pool_connections=1, pool_maxsize=pool, max_retries=retry_policy(retries, backoff)
    )
    adapter.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": PoolTLS}
    return adapter


class UrlTooLong(OperationFailed):
    pass


def unreachable(exc: Exception, timeout: float) -> str:
    """Why a request got no HTTP answer, from the exception requests raised once urllib3's retries were used up:
    each cause its own words (a refused connection is not a timeout, although urllib3's NewConnectionError
    subclasses ConnectTimeoutError)."""
    import errno
    import ssl

    from urllib3.exceptions import (
        ConnectTimeoutError,
        MaxRetryError,
        NameResolutionError,
        NewConnectionError,
        ReadTimeoutError,
        SSLError,
    )

    cause = exc.args[0] if exc.args else None
    cause = cause.reason if isinstance(cause, MaxRetryError) else cause
    if isinstance(cause, NameResolutionError):
        return f"the host name '{cause.conn.host}' does not resolve (DNS lookup failed); check the tracking URI's host"
    if isinstance(cause, NewConnectionError):
        if _errno(cause) == errno.ECONNREFUSED:
            return "connection refused: nothing listens at that host and port; check the URI's port and the server"
        return f"cannot connect: {_strerror(cause)}"
    if isinstance(cause, ConnectTimeoutError):
        return f"no connection within {timeout:g}s (a firewall, or a host that does not answer)"
    if isinstance(cause, SSLError) or type(exc).__name__ == "SSLError":
        return tls_failure(cause if isinstance(cause, BaseException) else exc, ssl)
    if isinstance(cause, ReadTimeoutError) or type(exc).__name__ in ("ReadTimeout", "Timeout"):
        return f"no answer within {timeout:g}s (MODELPINS_HTTP_TIMEOUT)"
    return f"the connection was lost ({type(cause or exc).__name__})"


def tls_failure(exc: BaseException, ssl: Any) -> str:
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    if isinstance(inner, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        why = getattr(inner, "verify_message", "") or "not trusted"
        return (
            f"TLS failed: the server's certificate cannot be verified ({why}); trust its CA with "
            "MLFLOW_TRACKING_SERVER_CERT_PATH"
        )
    if "WRONG_VERSION_NUMBER" in str(exc) or "wrong version number" in str(exc):
        return "TLS failed: the server does not speak TLS on that port (is the URI http:// rather than https://?)"
    return f"TLS failed: {getattr(inner, 'reason', None) or inner}"


def _errno(exc: BaseException) -> int | None:
    """The OS error number under a urllib3 connection error, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return seen.errno
        seen = seen.__cause__ or seen.__context__
    return None


def _strerror(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def http_error(resp: Any, endpoint: str) -> OperationFailed:
    if resp.status_code in (414, 431):
        return UrlTooLong(f"request to {endpoint} too long for the server (HTTP {resp.status_code})")
    try:
        body = resp.json()
        detail = f"{body.get('error_code', '')}: {body.get('message', '')}".strip(": ")
    except ValueError:
        detail = resp.text[:200]
    detail = detail.strip()
    if resp.status_code in (401, 403):
        return OperationFailed(
            f"MLflow refused {endpoint} (HTTP {resp.status_code}{', ' + detail if detail else ''}); "
            "check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD"
        )
    if resp.status_code == 404:
        return NotFound(f"MLflow: {detail or 'not found'} ({endpoint})")
    if detail.startswith("RESOURCE_ALREADY_EXISTS"):
        return Conflict(f"MLflow: {detail}")
    kind = Rejected if resp.status_code == 400 else OperationFailed
    return kind(f"MLflow rejected {endpoint} (HTTP {resp.status_code}){': ' + detail if detail else ''}")


def too_old(
    version_text: str, where: str, whose: str = "the MLflow server", fix: str = SERVER_FIX
) -> OperationFailed | None:
    """The error for a server whose `/version` answer is older than MIN_SERVER; None when it is new enough
    or says nothing readable (a gateway in front of MLflow may not pass /version: the requests then tell).
    `whose`: which server it is to the user (an environment's); `fix`: where its address is set."""
    found = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", version_text)
    if found is None:
        return None
    version = tuple(int(part or 0) for part in found.groups())
    if version >= MIN_SERVER:
        return None
    need = ".".join(map(str, MIN_SERVER))
    return OperationFailed(
        f"{whose} at {where} runs MLflow {version_text.strip()}; modelpins needs {need} or newer "
        f"(registered model aliases, listed by registered-models/search). Upgrade the tracking server, or {fix}"
    )
