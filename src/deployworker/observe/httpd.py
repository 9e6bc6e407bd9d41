"""The HTTP endpoint: `/metrics`, `/healthz` (poll loop alive), `/readyz` (able to work),
and any WSGI apps mounted beside them (the deploy board at `/board`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


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


Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serve(
    host: str,
    port: int,
    registry: CollectorRegistry,
    health: Health,
    mounts: Mapping[str, Wsgi] | None = None,
) -> ThreadingHTTPServer:
    """Start the endpoint on a daemon thread; returns the server (its port may be 0-assigned).
    `mounts`: a path prefix (`/board`) and the WSGI app that answers under it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            mounted = [app for prefix, app in (mounts or {}).items() if path.startswith(prefix)]
            if mounted:
                self._wsgi(mounted[0], path, query)
            elif self.path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif self.path in ("/healthz", "/readyz"):
                ok, detail = health.live() if self.path == "/healthz" else health.ready()
                self._send(200 if ok else 503, (detail + "\n").encode(), "text/plain")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _wsgi(self, app: Wsgi, path: str, query: str) -> None:
            environ = {"REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query}
            reply: list[Any] = []
            body = b"".join(
                app(environ, lambda status, headers, *_: reply.extend([status, headers]))
            )
            self.send_response(int(reply[0].split()[0]))
            for name, value in reply[1]:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Silence per-request logging: scrapes every few seconds would drown the log."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
