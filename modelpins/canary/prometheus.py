"""The Prometheus HTTP API (`/api/v1/query`, `/api/v1/parse_query`): the one place canary code talks to it.

The URL is a setting of the environment, never of the pins file: MODELPINS_ENV_<ENV>_PROMETHEUS_URL for
the deployment's environment, else MODELPINS_PROMETHEUS_URL. Any failure to reach the server or read its
answer is `Unreachable`, which a canary treats as "hold".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import requests

from modelpins import envvars

URL_RE = re.compile(r"https?://[\x21-\x7e]{1,2000}", re.ASCII)
TIMEOUT = 10.0


class Unreachable(Exception):
    """Prometheus could not be asked, or gave no usable answer."""


def url_for(environment: str, env: Mapping[str, str] | None = None) -> str | None:
    """The Prometheus URL of `environment`, from its own variable or the shared one (None: not configured)."""
    own = f"MODELPINS_ENV_{re.sub(r'[^A-Za-z0-9]', '_', environment).upper()}_PROMETHEUS_URL"
    what = "an http(s) URL, e.g. http://prometheus.monitoring:9090"
    return envvars.text(own, env, URL_RE, what) or envvars.text("MODELPINS_PROMETHEUS_URL", env, URL_RE, what)


@dataclass(frozen=True)
class Prometheus:
    url: str
    timeout: float = TIMEOUT
    session: requests.Session | None = None

    def _get(self, path: str, query: str) -> requests.Response:
        get = self.session.get if self.session else requests.get
        try:
            return get(f"{self.url.rstrip('/')}{path}", params={"query": query}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise Unreachable(f"Prometheus at {self.url} did not answer: {type(exc).__name__}") from None

    def value(self, query: str) -> float | None:
        """The query's single value now (None: no data); Unreachable when the server fails or refuses it."""
        r = self._get("/api/v1/query", query)
        body = _json(r, self.url)
        if body.get("status") != "success":
            raise Unreachable(f"Prometheus refused the query: {body.get('error', r.status_code)}")
        data = body.get("data")
        data = data if isinstance(data, dict) else {}
        result = data.get("result")
        if data.get("resultType") == "scalar":
            return _number(result[1]) if isinstance(result, list) else None
        if not isinstance(result, list) or not result:
            return None
        if len(result) > 1:
            raise Unreachable(f"the query gave {len(result)} series, not one: aggregate it (e.g. sum(...))")
        return _number(result[0].get("value", [None, None])[1])

    def parse_problem(self, query: str) -> str | None:
        """Prometheus's own parser's complaint about `query`, or None (parse_query, else a query it refuses)."""
        r = self._get("/api/v1/parse_query", query)
        if r.status_code == 404:  # before Prometheus 2.48 (Debian 12 ships 2.42): the query endpoint parses too
            r = self._get("/api/v1/query", query)
        body = _json(r, self.url)
        if body.get("status") == "success":
            return None
        if body.get("errorType") == "bad_data":
            return str(body.get("error", "not PromQL"))
        raise Unreachable(f"Prometheus failed: {body.get('error', r.status_code)}")


def _json(r: requests.Response, url: str) -> dict[str, object]:
    try:
        body = r.json()
    except ValueError:
        raise Unreachable(f"Prometheus at {url} answered HTTP {r.status_code} without JSON") from None
    if not isinstance(body, dict):
        raise Unreachable(f"Prometheus at {url} answered HTTP {r.status_code} with unexpected JSON")
    return body


def _number(raw: object) -> float | None:
    try:
        value = float(str(raw))
    except ValueError:
        return None
    return None if math.isnan(value) or math.isinf(value) else value
