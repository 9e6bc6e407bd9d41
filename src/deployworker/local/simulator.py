"""ECS rollout simulator for moto, which does not simulate deployments itself.

`RolloutSimulator.install` patches moto's ECS backend (`backend`) and response class
(`handlers`) so that services get ECS's service deployments and revisions (the 2025
model: strategies, lifecycle stages, traffic weights, PAUSE hooks, rollbacks, and the
DescribeServiceDeployments, ListServiceDeployments, DescribeServiceRevisions,
StopServiceDeployment and ContinueServiceDeployment operations) with the legacy
`deployments` array kept in step, and starts a thread that moves every deployment on.
`Rules` decides how rollouts end and how long they take; assign `simulator.rules` to
change them for deployments started afterwards. `clock` is the monotonic time every
deployment moves by: a test that must see every stage may hold it and move it itself
(assign a callable, then `step`), so no stage can pass between two of its describes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from deployworker.local import backend, dynamolock, fifowait, handlers, schedules, snstargets
from deployworker.local.rules import Rules

__all__ = ["RolloutSimulator", "Rules"]


class RolloutSimulator:
    """Drives simulated deployments of moto's ECS services to an end."""

    def __init__(self, rules: Rules, tick: float = 0.05) -> None:
        self.rules = rules
        self.clock: Callable[[], float] = time.monotonic
        self._tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self) -> None:
        """Patch moto and start the simulator thread. Only one simulator is active at a time."""
        backend.install(self)
        handlers.install()
        schedules.install()
        snstargets.install()
        dynamolock.install()  # the ledger's conditional writes atomic, as on AWS
        fifowait.install()  # a long poll waits for a message rather than spins
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="rollout-sim", daemon=True)
        self._thread.start()

    def uninstall(self) -> None:
        """Stop the thread and put moto back as it was."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        backend.uninstall(self)
        handlers.uninstall()
        schedules.uninstall()
        snstargets.uninstall()
        dynamolock.uninstall()
        fifowait.uninstall()

    def step(self) -> None:
        """Move every deployment on to `clock()` (the thread does this every `tick` seconds)."""
        backend.tick(self.clock())

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            self.step()
