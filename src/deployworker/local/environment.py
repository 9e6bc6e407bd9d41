"""The embedded AWS endpoint: moto's server in-process on 127.0.0.1, in-process so
that the rollout simulator's patch applies to it.

The listening socket is bound here, on the caller's thread, before any server thread
starts: a port that cannot be bound is a `ConfigError` naming the port and the
setting that changes it. (moto's `ThreadedMotoServer` binds on its own thread, where
the failure only prints and the caller waits for a readiness that never comes.)
"""

from __future__ import annotations

import errno
import logging
import socket
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from deployworker.errors import ConfigError
from deployworker.local.simulator import RolloutSimulator, Rules

HOST = "127.0.0.1"


def listen(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:`port` (0: any free port); raises `ConfigError`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As werkzeug does: a restart may reuse a port whose old connections linger in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        what = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        raise ConfigError(
            f"local mode cannot listen on {HOST}:{port}: port {port} {what}; stop what holds "
            "it, or choose another port with DEPLOYWORKER_LOCAL_PORT (or --port)"
        ) from exc
    return sock


class LocalAws:
    """moto on 127.0.0.1 with the rollout simulator installed."""

    def __init__(self, port: int, rules: Rules) -> None:
        self._port = port
        self.simulator = RolloutSimulator(rules)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint_url = ""

    def start(self) -> str:
        """Start the server; returns its endpoint URL. Raises `ConfigError` when the
        port cannot be bound, before anything is installed or started."""
        # moto's request log would interleave plain text with the worker's JSON lines.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        listener = listen(self._port)
        port = int(listener.getsockname()[1])
        try:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(
                HOST,
                self._port,
                app,
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=listener.fileno(),
            )
        finally:
            listener.close()  # the server holds its own duplicate of the socket
        self.simulator.install()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-aws", daemon=True
        )
        self._thread.start()
        self.endpoint_url = f"http://{HOST}:{port}"
        return self.endpoint_url

    def stop(self) -> None:
        """Stop the server and the simulator."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self.simulator.uninstall()
