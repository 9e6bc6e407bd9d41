"""The legacy `deployments` array of a moto service, kept in step with service deployments.

moto's UpdateService only swaps `service.taskDefinition`; its single deployment never
moves. Here a new task definition (or a forced deployment) starts a new PRIMARY entry
and demotes the older ones to ACTIVE, as ECS does; the service deployment's end makes
the PRIMARY entry COMPLETED (and the only one), or FAILED, and a rollback starts a new
PRIMARY entry for the source task definition. Callers hold `store.LOCK`.
"""

from __future__ import annotations

from typing import Any

from moto.core.utils import utcnow
from moto.moto_api._internal import mock_random


def start(service: Any, before: list[dict[str, Any]]) -> str:
    """Make a PRIMARY entry for the service's task definition; returns its id."""
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
    older = [{**d, "status": "ACTIVE"} for d in before if d.get("status") in ("PRIMARY", "ACTIVE")]
    # A new list, never an update in place: moto may be serialising the old one.
    service.deployments = [deployment, *older]
    return deployment_id


def _primary(service: Any, deployment_id: str | None) -> dict[str, Any] | None:
    """The entry, while it is still PRIMARY (a later UpdateService demotes it)."""
    mine: dict[str, Any] | None = next(
        (d for d in service.deployments if d["id"] == deployment_id), None
    )
    if mine is None or mine.get("status") != "PRIMARY":
        return None
    return mine


def complete(service: Any, deployment_id: str | None) -> None:
    """The entry's rollout COMPLETED: it is the service's only deployment now."""
    mine = _primary(service, deployment_id)
    if mine is None:
        return
    done = {
        **mine,
        "rolloutState": "COMPLETED",
        "rolloutStateReason": f"ECS deployment {deployment_id} completed.",
        "runningCount": mine["desiredCount"],
        "pendingCount": 0,
        "updatedAt": utcnow(),
    }
    service.deployments = [done]
    service.running_count, service.pending_count = service.desired_count, 0


def fail(service: Any, deployment_id: str | None, reason: str, failed_tasks: int = 0) -> None:
    """The entry's rollout FAILED (it stays PRIMARY until a rollback demotes it)."""
    mine = _primary(service, deployment_id)
    if mine is None or mine.get("rolloutState") != "IN_PROGRESS":
        return
    failed = {
        **mine,
        "rolloutState": "FAILED",
        "rolloutStateReason": reason,
        "failedTasks": max(failed_tasks, mine.get("failedTasks", 0)),
        "runningCount": 0,
        "updatedAt": utcnow(),
    }
    service.deployments = [failed if d is mine else d for d in service.deployments]
