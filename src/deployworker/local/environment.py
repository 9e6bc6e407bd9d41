"""The embedded AWS endpoint: moto's server in-process on 127.0.0.1, in-process so
that the rollout simulator's patch applies to it.
"""

from __future__ import annotations

import logging

from moto.server import ThreadedMotoServer

from deployworker.local.simulator import RolloutSimulator, Rules


class LocalAws:
    """moto on 127.0.0.1 with the rollout simulator installed."""

    def __init__(self, port: int, rules: Rules) -> None:
        self._port = port
        self.simulator = RolloutSimulator(rules)
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url = ""

    def start(self) -> str:
        """Start the server; returns its endpoint URL."""
        # moto's request log would interleave plain text with the worker's JSON lines.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.simulator.install()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self.endpoint_url

    def stop(self) -> None:
        """Stop the server and the simulator."""
        if self._server is not None:
            self._server.stop()
        self.simulator.uninstall()
