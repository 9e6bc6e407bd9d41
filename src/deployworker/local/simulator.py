"""ECS rollout simulator for moto, which does not simulate deployments itself.

moto's UpdateService only swaps `service.taskDefinition`; its single deployment
never moves. `RolloutSimulator.install` wraps the backend's `update_service` so
that a new task definition (or a forced deployment) starts a new PRIMARY
deployment and demotes the old one to ACTIVE, as ECS does. A thread then ends
each rollout after `converge_seconds`: COMPLETED, or FAILED for images matching
`fail_pattern` (with the circuit breaker's rollback when the service enables
it), or never, for images matching `hang_pattern`. RunTask is wrapped too: a
command override matching `task_fail_pattern` makes the task's container exit 1.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from moto.core.utils import utcnow
from moto.ecs.models import EC2ContainerServiceBackend
from moto.moto_api._internal import mock_random


@dataclass(frozen=True)
class Rules:
    """How simulated rollouts end."""

    converge_seconds: float = 3.0
    fail_pattern: str | None = r":.*fail"
    hang_pattern: str | None = r":.*hang"
    # A task whose command override matches exits 1 (a failing migration).
    task_fail_pattern: str | None = r"\bfail\b"


@dataclass
class _Rollout:
    service: Any
    deployment_id: str
    due: float
    fate: str  # complete | fail


_original_update_service = EC2ContainerServiceBackend.update_service
_original_run_task = EC2ContainerServiceBackend.run_task
_active: RolloutSimulator | None = None


def _patched_run_task(self: Any, *args: Any, **kwargs: Any) -> Any:
    # moto reports exit code 0 for every task; a command override matching the fail
    # pattern exits 1, so migrations can fail in local mode and in tests.
    tasks = _original_run_task(self, *args, **kwargs)
    simulator = _active
    overrides = kwargs.get("overrides") or (args[3] if len(args) > 3 else None) or {}
    pattern = simulator.rules.task_fail_pattern if simulator is not None else None
    commands = [" ".join(o.get("command") or []) for o in overrides.get("containerOverrides") or []]
    if pattern and any(re.search(pattern, c) for c in commands):
        for task in tasks:
            for container in task.containers:
                container.exitCode = 1
    return tasks


def _patched_update_service(self: Any, service_properties: dict[str, Any]) -> Any:
    cluster = service_properties.get("cluster", "default")
    name = str(service_properties["service"]).split("/")[-1]
    before = self._get_service(cluster, name)
    before_task_definition = before.task_definition
    before_deployments = [dict(d) for d in before.deployments]
    force = bool(service_properties.get("force_new_deployment"))
    service = _original_update_service(self, service_properties)
    simulator = _active
    if simulator is not None and (force or service.task_definition != before_task_definition):
        simulator.start_rollout(self, service, before_deployments)
    return service


class RolloutSimulator:
    """Drives simulated deployments of moto's ECS services to an end."""

    def __init__(self, rules: Rules, tick: float = 0.05) -> None:
        self.rules = rules
        self._tick = tick
        self._pending: list[_Rollout] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self) -> None:
        """Patch moto and start the simulator thread. Only one simulator is active at a time."""
        global _active  # noqa: PLW0603 - moto's backend is process-wide, so is the patch
        _active = self
        EC2ContainerServiceBackend.update_service = _patched_update_service
        EC2ContainerServiceBackend.run_task = _patched_run_task
        self._thread = threading.Thread(target=self._loop, name="rollout-sim", daemon=True)
        self._thread.start()

    def uninstall(self) -> None:
        """Stop the thread and restore moto's own `update_service`."""
        global _active  # noqa: PLW0603 - moto's backend is process-wide, so is the patch
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if _active is self:
            _active = None
            EC2ContainerServiceBackend.update_service = _original_update_service
            EC2ContainerServiceBackend.run_task = _original_run_task

    def _fate(self, backend: Any, task_definition: str) -> str | None:
        images = [
            str(c.get("image", ""))
            for c in backend.describe_task_definition(task_definition).container_definitions
        ]
        rules = self.rules
        if rules.fail_pattern and any(re.search(rules.fail_pattern, i) for i in images):
            return "fail"
        if rules.hang_pattern and any(re.search(rules.hang_pattern, i) for i in images):
            return None
        return "complete"

    def start_rollout(
        self, backend: Any, service: Any, before: list[dict[str, Any]], fate: str | None = ""
    ) -> str:
        """Start a PRIMARY deployment of the service's task definition; returns its id."""
        now = utcnow()
        deployment_id = f"ecs-svc/{mock_random.randint(10**18, 10**19 - 1)}"
        deployment = {
            "id": deployment_id,
            "status": "PRIMARY",
            "taskDefinition": service.task_definition,
            "desiredCount": service.desired_count,
            "pendingCount": service.desired_count,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": service.launch_type,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
        }
        older = [
            {**d, "status": "ACTIVE"} for d in before if d.get("status") in ("PRIMARY", "ACTIVE")
        ]
        service.deployments = [deployment, *older]
        if fate == "":
            fate = self._fate(backend, service.task_definition)
        if fate is not None:
            due = time.monotonic() + self.rules.converge_seconds
            with self._lock:
                self._pending.append(_Rollout(service, deployment_id, due, fate))
        return deployment_id

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            now = time.monotonic()
            with self._lock:
                due = [r for r in self._pending if r.due <= now]
                self._pending = [r for r in self._pending if r.due > now]
            for rollout in due:
                self._finish(rollout)

    def _finish(self, rollout: _Rollout) -> None:
        service = rollout.service
        mine = next((d for d in service.deployments if d["id"] == rollout.deployment_id), None)
        if mine is None or mine.get("status") != "PRIMARY":
            return  # superseded by a later deployment
        now = utcnow()
        if rollout.fate == "complete":
            mine.update(
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {rollout.deployment_id} completed.",
                runningCount=mine["desiredCount"],
                pendingCount=0,
                updatedAt=now,
            )
            service.deployments = [mine]
            service.running_count, service.pending_count = service.desired_count, 0
            return
        mine.update(
            rolloutState="FAILED",
            rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
            failedTasks=max(1, mine["desiredCount"]),
            runningCount=0,
            updatedAt=now,
        )
        breaker = (getattr(service, "deployment_configuration", None) or {}).get(
            "deploymentCircuitBreaker"
        ) or {}
        previous = next((d for d in service.deployments if d.get("status") == "ACTIVE"), None)
        if breaker.get("rollback") and previous is not None:
            service.task_definition = previous["taskDefinition"]
            self.start_rollout(None, service, list(service.deployments), fate="complete")
