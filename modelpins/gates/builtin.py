"""The built-in gate kinds: threshold, safety (a logged score), regression and latency."""

from __future__ import annotations

import contextlib
import http.client
import math
import socket
import threading
import time
from urllib.parse import quote, urlsplit

from modelpins.gates import GateError, GateResult, Subject, Target
from modelpins.pins import Gate


def fmt(x: float) -> str:
    return f"{x:.4g}"


def metric(subject: Subject, name: str, role: str = "") -> float:
    """The metric's latest value in the version's run, or GateError saying why there is none."""
    who = f"{role}v{subject.version}"
    if not subject.has_run:
        raise GateError(f"{who} has no MLflow run, so no metric '{name}'; register versions from a run")
    if name not in subject.metrics:
        logged = ", ".join(sorted(subject.metrics)[:8]) or "none"
        raise GateError(f"metric '{name}' is not logged in the run of {who} (logged: {logged})")
    return subject.metrics[name]


def bounds_text(low: float | None, high: float | None, unit: str = "") -> str:
    if low is not None and high is not None:
        return f"{fmt(low)}..{fmt(high)}{unit}"
    return f">= {fmt(low)}{unit}" if low is not None else f"<= {fmt(high or 0)}{unit}"


def within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def threshold(gate: Gate, target: Target) -> GateResult:
    """threshold, and safety with `metric`: the logged value lies within [min, max]."""
    assert gate.metric
    value = metric(target.candidate, gate.metric)
    return GateResult(
        gate.name,
        gate.kind,
        within(value, gate.min, gate.max),
        value,
        bounds_text(gate.min, gate.max),
        f"{gate.metric} of v{target.candidate.version}",
    )


def regression(gate: Gate, target: Target) -> GateResult:
    """The candidate's metric against the version the baseline alias points to now, within `tolerance`."""
    assert gate.metric
    against = gate.against or target.alias
    value = metric(target.candidate, gate.metric)
    base = target.baselines.get(against)
    if base is None:
        return GateResult(
            gate.name,
            gate.kind,
            True,
            value,
            "no baseline",
            f"{target.candidate.model}@{against} is not set yet: nothing to regress against",
        )
    base_value = metric(base, gate.metric, f"baseline {against} ")
    if gate.higher_is_better:
        limit, op, sign = base_value - gate.tolerance, ">=", "-"
        passed = value >= limit - 1e-12
    else:
        limit, op, sign = base_value + gate.tolerance, "<=", "+"
        passed = value <= limit + 1e-12
    return GateResult(
        gate.name,
        gate.kind,
        passed,
        value,
        f"{op} {fmt(limit)}",
        f"{gate.metric}: {against} v{base.version} has {fmt(base_value)} {sign} tolerance {fmt(gate.tolerance)}",
    )


def latency(gate: Gate, target: Target) -> GateResult:
    """A logged latency metric, or p`percentile` of real requests to `endpoint`, at most `max_ms`."""
    limit = gate.max or 0.0
    if gate.metric:
        value = metric(target.candidate, gate.metric)
        return GateResult(
            gate.name,
            gate.kind,
            value <= limit,
            value,
            f"<= {fmt(limit)} ms",
            f"{gate.metric} logged for v{target.candidate.version}",
        )
    samples = measure(gate, target)
    value = percentile(samples, gate.percentile)
    return GateResult(
        gate.name,
        gate.kind,
        value <= limit,
        round(value, 3),
        f"p{fmt(gate.percentile)} <= {fmt(limit)} ms",
        f"p50 {fmt(percentile(samples, 50))} ms, p{fmt(gate.percentile)} {fmt(value)} ms, "
        f"max {fmt(max(samples))} ms over {len(samples)} requests",
    )


def endpoint_url(gate: Gate, target: Target) -> str:
    """`endpoint` with {model}, {version} and {alias} filled in (URL-quoted)."""
    assert gate.endpoint
    c = target.candidate
    return (
        gate.endpoint.replace("{model}", quote(c.model, safe=""))
        .replace("{version}", str(c.version))
        .replace("{alias}", quote(target.alias, safe=""))
    )


def measure(gate: Gate, target: Target) -> list[float]:
    """Milliseconds per request, sequentially; any failed request or the `timeout` budget fails the gate.

    Fails closed: an answer other than 2xx fails the gate, a redirect too (a redirect loop, a
    redirect to a slow endpoint or an auth proxy's login page would otherwise time only the 3xx).

    `timeout` bounds the whole gate and so every request in it (connect, headers and body
    together, not each read): a server that trickles bytes is cut off at the deadline.
    """
    url = endpoint_url(gate, target)
    deadline = time.monotonic() + gate.timeout
    samples: list[float] = []
    for n in range(1, gate.requests + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            raise GateError(f"timed out after {fmt(gate.timeout)}s with {n - 1} of {gate.requests} requests done")
        start = time.perf_counter()
        try:
            status, location = request(url, gate.body, left)
        except TimeoutError:
            budget = fmt(gate.timeout)
            raise GateError(f"request {n} of {gate.requests} to {url} timed out (budget {budget}s)") from None
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise GateError(f"request {n} of {gate.requests} to {url} failed: {reason}") from None
        elapsed = (time.perf_counter() - start) * 1000
        if not 200 <= status < 300:
            raise GateError(
                f"request {n} of {gate.requests} to {url} answered HTTP {status}{_redirect(status, location)}"
            )
        samples.append(elapsed)
    return samples


def _redirect(status: int, location: str) -> str:
    """Why a redirect fails the gate: the time measured would be the redirect's, not the model's."""
    if not 300 <= status < 400:
        return ""
    return (
        f" (a redirect to {location[:200]!r}); redirects are not followed, as the time would be the redirect's: "
        "set 'endpoint' to the URL that serves the model"
    )


def request(url: str, body: str | None, seconds: float) -> tuple[int, str]:
    """One GET (or POST of `body`), read to the end; its status and Location header (for a redirect).

    TimeoutError past `seconds` in all. Only a 2xx counts as an answer (see `measure`).
    """
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname or "", parts.port, timeout=seconds)
    expired = threading.Event()

    def cut() -> None:  # unblocks a read in progress: the socket timeout alone is per read
        expired.set()
        if conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(seconds, cut)
    watchdog.start()
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": "modelpins-gate"}
        if body is None:
            conn.request("GET", path, headers=headers)
        else:
            conn.request("POST", path, body=body.encode(), headers={**headers, "Content-Type": "application/json"})
        resp = conn.getresponse()
        while resp.read(64 * 1024):  # the whole body counts toward latency
            pass
        if expired.is_set():
            raise TimeoutError
        return resp.status, resp.getheader("Location") or ""
    except (OSError, http.client.HTTPException):
        if expired.is_set():
            raise TimeoutError from None
        raise
    finally:
        watchdog.cancel()
        conn.close()


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least p% of samples at or below it."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
