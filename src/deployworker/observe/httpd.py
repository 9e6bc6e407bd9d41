"""The HTTP endpoint: `/metrics`, `/healthz` (poll loop alive), `/readyz` (able to work),
and any WSGI app mounted beside them (the deploy board at `/board`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse
from wsgiref.types import WSGIApplication as WsgiApp

from prometheus_client import CollectorRegistry, make_wsgi_app


@dataclass
class Health:
    """What the probes report; written by the worker, read by the HTTP threads."""

    poll_window: float
    clock: Callable[[], float] = time.monotonic
    last_poll: float | None = None
    # Each queue the worker reads, and whether it answered (a GetQueueAttributes at
    # start, or any receive).
    queues: dict[str, bool] = field(default_factory=lambda: {"queue": False})
    allowlist_loaded: Callable[[], bool] = field(default=lambda: False)
    on_poll: Callable[[], None] = field(default=lambda: None)

    def polled(self) -> None:
        """A receive call completed."""
        self.last_poll = self.clock()
        self.answered()
        self.on_poll()

    def expect(self, queue: str) -> None:
        """Readiness waits for `queue` to answer, too."""
        self.queues.setdefault(queue, False)

    def answered(self, queue: str = "queue") -> None:
        """`queue` answered a call."""
        self.queues[queue] = True

    @property
    def queue_answered(self) -> bool:
        """Every queue answered at least once."""
        return all(self.queues.values())

    def waiting(self) -> None:
        """The loop is alive but not receiving, because every slot is taken."""
        self.last_poll = self.clock()

    def __post_init__(self) -> None:
        # A loop that never completes its first receive is as stuck as one that stopped.
        self.started = self.clock()

    def live(self) -> tuple[bool, str]:
        """Liveness: the poll loop completed a receive within the window."""
        age = self.clock() - (self.last_poll if self.last_poll is not None else self.started)
        if age > self.poll_window:
            return False, f"no receive for {age:.0f}s (window {self.poll_window:.0f}s)"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        """Readiness: the allowlist loaded and every queue answered once."""
        if not self.allowlist_loaded():
            return False, "allowlist not loaded"
        for queue, answered in self.queues.items():
            if not answered:
                return False, f"{queue} has not answered yet"
        return True, "ok"


def endpoint(
    registry: CollectorRegistry, health: Health, mounts: Mapping[str, WsgiApp] | None = None
) -> WsgiApp:
    """The WSGI app: `/metrics` is prometheus_client's own (gzip, OpenMetrics
    negotiation, `?name[]=` filtering), answered for HEAD as for GET without a body;
    `/healthz` and `/readyz` are the probes; a path under a `mounts` prefix (`/board`)
    goes to the app mounted there; anything else is 404."""
    metrics = make_wsgi_app(registry)
    mounted = dict(mounts or {})

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        for prefix, inner in mounted.items():
            if path == prefix or path.startswith(prefix + "/"):
                return inner(environ, start_response)
        if path == "/metrics":
            if method != "HEAD":
                return cast("Iterable[bytes]", metrics(environ, start_response))
            # prometheus_client answers HEAD with 405; `curl -I` gets GET's headers.
            seen: list[tuple[str, list[tuple[str, str]]]] = []
            get = {**environ, "REQUEST_METHOD": "GET"}
            body = b"".join(
                metrics(get, lambda status, headers, *_: seen.append((status, headers)))
            )
            status, headers = seen[0]
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return []
        if path in ("/healthz", "/readyz"):
            ok, detail = health.live() if path == "/healthz" else health.ready()
            return _text(start_response, "200 OK" if ok else "503 Service Unavailable", detail)
        return _text(start_response, "404 Not Found", "not found")

    return app


def _text(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging: scrapes every few seconds would drown the log."""


def serve(
    host: str,
    port: int,
    registry: CollectorRegistry,
    health: Health,
    mounts: Mapping[str, WsgiApp] | None = None,
) -> WSGIServer:
    """Start the endpoint on a daemon thread; returns the server (its port may be 0-assigned).
    `mounts`: a path prefix (`/board`) and the WSGI app that answers under it."""
    server = make_server(host, port, endpoint(registry, health, mounts), _Server, _Quiet)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
