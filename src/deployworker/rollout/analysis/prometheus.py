"""The Prometheus provider: one instant query through the HTTP API (`/api/v1/query`).

It talks to a Prometheus-compatible server, not to AWS, so it lives here rather than
in `aws/`, and it never retries: a failed measurement is inconclusive, and the
gate's next interval is the retry. Every call is bounded by one total timeout, which
is also handed to Prometheus so that it abandons the evaluation at the same time.
Credentials (a bearer token or basic auth) travel as one `Authorization` header and
never appear in an error; redirects are not followed, so they cannot leak elsewhere.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping

import urllib3
from urllib3.exceptions import HTTPError

from deployworker.errors import ConfigError
from deployworker.rollout.analysis.measure import Measurement, PrometheusQuery, Query
from deployworker.rollout.analysis.promresult import read_response

# An answer larger than this is many series (an aggregation was forgotten), not one.
MAX_BODY = 1 << 20
# Connecting is quick or broken: it gets at most this much of the total timeout.
_CONNECT = 5.0


def auth_headers(
    bearer_token: str | None = None, username: str | None = None, password: str | None = None
) -> dict[str, str]:
    """The `Authorization` header for a bearer token or basic auth (none for neither).

    Raises `ConfigError` for both at once, or for half of basic auth.
    """
    if bearer_token and username:
        raise ConfigError("Prometheus auth: give a bearer token or a username, not both")
    if bearer_token:
        return {"Authorization": f"Bearer {bearer_token}"}
    if username is not None or password is not None:
        if not username or password is None:
            raise ConfigError("Prometheus basic auth needs both a username and a password")
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


def secret_headers(secret: str) -> dict[str, str]:
    """Headers from a Secrets Manager value: JSON `{"bearer_token": ...}` or
    `{"username": ..., "password": ...}`. Raises `ConfigError` naming what is wrong,
    never quoting the secret."""
    try:
        fields = json.loads(secret)
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or not ({"bearer_token", "username", "password"} & set(fields)):
        raise ConfigError(
            "the Prometheus auth secret must be JSON with bearer_token, or username and password"
        )
    values = {k: fields.get(k) for k in ("bearer_token", "username", "password")}
    if any(v is not None and not isinstance(v, str) for v in values.values()):
        raise ConfigError("the Prometheus auth secret's fields must be strings")
    return auth_headers(values["bearer_token"], values["username"], values["password"])


def _read_body(response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
    """At most `MAX_BODY` + 1 bytes of the body, read by `deadline` (urllib3's timeout
    bounds each read, not a server that trickles); raises `TimeoutError` past it."""
    body = bytearray()
    while len(body) <= MAX_BODY:
        if time.monotonic() > deadline:
            response.close()
            raise TimeoutError("the answer took too long")
        chunk = response.read1(MAX_BODY + 1 - len(body))
        if not chunk:
            return bytes(body)
        body += chunk
    # The rest is never read. urllib3 drops a pooled connection with bytes waiting,
    # but not one whose rest has not arrived yet.
    response.close()
    return bytes(body)


class PrometheusProvider:
    """Measures `PrometheusQuery`s against one server. Thread-safe (urllib3's pool)."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        pool_size: int = 4,
    ) -> None:
        parsed = urllib3.util.parse_url(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigError(f"Prometheus URL {url!r} is not an http(s) URL")
        if parsed.auth:
            raise ConfigError(
                "put Prometheus credentials in DEPLOYWORKER_PROMETHEUS_USERNAME/_PASSWORD "
                "(or the bearer token), not in the URL"
            )
        self.endpoint = f"{url.rstrip('/')}/api/v1/query"
        self.server = f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._clock = clock
        self._pool = urllib3.PoolManager(
            maxsize=pool_size,
            retries=False,
            timeout=urllib3.Timeout(total=timeout, connect=min(timeout, _CONNECT)),
        )

    def measure(self, query: Query) -> Measurement:
        """One instant query; never raises (see `promresult.read_response`)."""
        at = self._clock()
        if not isinstance(query, PrometheusQuery):
            return Measurement(None, at, error=f"Prometheus cannot measure {type(query).__name__}")
        # POST keeps long expressions out of URL length limits; `timeout` makes the
        # server give up when we do.
        fields = {"query": query.expr, "timeout": f"{self._timeout:g}s"}
        deadline = time.monotonic() + self._timeout
        try:
            response = self._pool.request(
                "POST",
                self.endpoint,
                fields=fields,
                encode_multipart=False,
                headers=self._headers,
                redirect=False,
                preload_content=False,
            )
            try:
                body = _read_body(response, deadline)
            finally:
                response.release_conn()
        except (HTTPError, OSError) as exc:
            return Measurement(None, at, error=f"Prometheus at {self.server}: {self._why(exc)}")
        if len(body) > MAX_BODY:
            return Measurement(
                None, at, error="the answer is over 1 MiB: the query must return one series"
            )
        if response.status in (401, 403):
            return Measurement(
                None,
                at,
                error=f"Prometheus at {self.server} refused our credentials (HTTP "
                f"{response.status}); check DEPLOYWORKER_PROMETHEUS_* auth settings",
            )
        return read_response(response.status, body, at)

    def _why(self, exc: Exception) -> str:
        if isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError):
            return f"no answer within {self._timeout:g}s"
        # urllib3's messages open with the connection object's repr; the cause is last.
        return f"{type(exc).__name__}: {str(exc).rsplit(': ', 1)[-1]}"

    def close(self) -> None:
        """Close pooled connections."""
        self._pool.clear()
